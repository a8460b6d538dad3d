import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDocument, stringify } from 'yaml';
import { Mutex } from 'async-mutex';
import { BrineError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { isPlainObject } from './merge.js';
import { RUNTIME_CONFIG_FILE } from './load.js';
import type { Binding } from './schema.js';

const lock = new Mutex();

/**
 * Appends a routing binding to `config.runtime.yaml` (the file the bot owns),
 * keeping whatever else is in it, then runs `accept` (a reload). If `accept`
 * throws, the file is put back as it was, so a rejected binding never lingers
 * to surprise a later reload. Written atomically; one writer at a time.
 */
export async function appendRuntimeBinding(root: string, binding: Binding, accept: () => Promise<void>): Promise<void> {
  await lock.runExclusive(async () => {
    const path = join(root, RUNTIME_CONFIG_FILE);
    let data: Record<string, unknown> = {};
    let previous: string | null = null;
    try {
      previous = await readFile(path, 'utf8');
      const doc = parseDocument(previous);
      if (doc.errors.length > 0) throw new BrineError('config_invalid', `${RUNTIME_CONFIG_FILE}: is not valid YAML; fix or delete it before adding bindings`);
      const parsed: unknown = doc.toJS();
      if (isPlainObject(parsed)) data = parsed;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const routing = isPlainObject(data.routing) ? data.routing : {};
    const bindings = Array.isArray(routing.bindings) ? routing.bindings : [];
    data.routing = { ...routing, bindings: [...bindings, binding] };
    await writeFileAtomic(path, `# Written by Brine (/route). Edit config.user.yaml for your own settings.\n${stringify(data)}`);
    try {
      await accept();
    } catch (err) {
      if (previous === null) await rm(path, { force: true });
      else await writeFileAtomic(path, previous);
      throw err;
    }
  });
}
