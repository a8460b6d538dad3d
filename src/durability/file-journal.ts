import { join } from 'node:path';
import { Mutex } from 'async-mutex';
import type { InboundMessage } from '../events.js';
import type { Logger } from '../logger.js';
import { JsonDir } from './json-dir.js';
import type { InboundJournal } from './types.js';

/** How many answered ids are remembered to drop platform replays (a gateway resume, a Slack retry). */
const RECENT_IDS = 5_000;

/** {@link InboundJournal} as files under `<workspace>/.events/inbound/`. */
export class FileInboundJournal implements InboundJournal {
  readonly #records: JsonDir<InboundMessage>;
  readonly #recent = new Set<string>();
  readonly #lock = new Mutex();

  constructor(workspaceRoot: string, logger: Logger) {
    this.#records = new JsonDir(join(workspaceRoot, '.events', 'inbound'), logger);
  }

  add(message: InboundMessage): Promise<boolean> {
    // Serialized: two copies of one platform event arriving together are one.
    return this.#lock.runExclusive(async () => {
      if (this.#recent.has(message.id) || (await this.#records.has(message.id))) return false;
      await this.#records.write(message);
      return true;
    });
  }

  async remove(id: string): Promise<void> {
    await this.#records.remove(id);
    this.#recent.add(id);
    if (this.#recent.size > RECENT_IDS) this.#recent.delete(this.#recent.values().next().value as string);
  }

  pending(): Promise<InboundMessage[]> {
    return this.#records.list();
  }
}
