import { appendFile, mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Mutex } from 'async-mutex';
import { writeFileAtomic } from '../util/atomic-write.js';
import type { Logger } from '../logger.js';
import type { HistoryEntry, SessionInfo, SessionStore } from './types.js';

/** The index file: which source is on which session, and every session's facts. */
interface IndexFile {
  version: 1;
  sources: Record<string, string>;
  sessions: Record<string, SessionInfo>;
}

/** Session ids are safe file names: date plus random hex. */
function newSessionId(now: Date): string {
  return `${now.toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(5).toString('hex')}`;
}

/**
 * Sessions as files under `<workspace>/.history/`: one append-only
 * `<id>.jsonl` per session and `index.json`, rewritten atomically (temp file
 * plus rename), so a crash leaves the old index or the new one. A crash in the
 * middle of an append can only tear the last JSONL line, which `load` skips.
 */
export class JsonlSessionStore implements SessionStore {
  readonly #dir: string;
  readonly #logger: Logger;
  readonly #indexLock = new Mutex();
  #index: IndexFile | null = null;
  /** Sessions whose file end was checked for a torn line in this process. */
  readonly #checkedTails = new Set<string>();
  /** `.history/` exists (made once per process, not before every append). */
  #dirReady = false;
  readonly #now: () => Date;

  constructor(workspaceRoot: string, logger: Logger, now: () => Date = () => new Date()) {
    this.#dir = join(workspaceRoot, '.history');
    this.#logger = logger;
    this.#now = now;
  }

  async current(source: string): Promise<SessionInfo | null> {
    const index = await this.#readIndex();
    const id = index.sources[source];
    return id ? (index.sessions[id] ?? null) : null;
  }

  async get(id: string): Promise<SessionInfo | null> {
    return (await this.#readIndex()).sessions[id] ?? null;
  }

  async create(options: { source: string; agentId: string; previous?: string; parent?: string; bind?: boolean; seed?: HistoryEntry[] }): Promise<SessionInfo> {
    const now = this.#now();
    const info: SessionInfo = {
      id: newSessionId(now),
      source: options.source,
      agentId: options.agentId,
      createdAt: now.toISOString(),
      ...(options.previous && { previous: options.previous }),
      ...(options.parent && { parent: options.parent }),
    };
    // History first, index second: an index entry never points at a missing seed.
    if (options.seed && options.seed.length > 0) await this.append(info.id, options.seed);
    await this.#indexLock.runExclusive(async () => {
      const index = await this.#readIndex();
      index.sessions[info.id] = info;
      if (options.bind !== false) index.sources[options.source] = info.id;
      await writeFileAtomic(join(this.#dir, 'index.json'), `${JSON.stringify(index, null, 1)}\n`);
    });
    return info;
  }

  async append(id: string, entries: HistoryEntry[]): Promise<void> {
    if (entries.length === 0) return;
    if (!this.#dirReady) {
      await mkdir(this.#dir, { recursive: true });
      this.#dirReady = true;
    }
    // A crash may have torn the last line; start on a fresh line so the new
    // entries are not glued to the fragment (checked once per file and process).
    const lead = this.#checkedTails.has(id) ? '' : await this.#tailSeparator(id);
    this.#checkedTails.add(id);
    // One appendFile call per batch: O_APPEND keeps concurrent batches whole.
    await appendFile(this.#file(id), lead + entries.map((e) => `${JSON.stringify(e)}\n`).join(''), 'utf8');
  }

  /** `\n` if the file exists and does not end with one, else ''. */
  async #tailSeparator(id: string): Promise<string> {
    let handle;
    try {
      handle = await open(this.#file(id), 'r');
    } catch {
      return '';
    }
    try {
      const { size } = await handle.stat();
      if (size === 0) return '';
      const { buffer } = await handle.read(Buffer.alloc(1), 0, 1, size - 1);
      return buffer[0] === 0x0a ? '' : '\n';
    } finally {
      await handle.close();
    }
  }

  async load(id: string): Promise<HistoryEntry[]> {
    let text: string;
    try {
      text = await readFile(this.#file(id), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const entries: HistoryEntry[] = [];
    let skipped = 0;
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        entries.push(JSON.parse(line) as HistoryEntry);
      } catch {
        skipped += 1;
      }
    }
    if (skipped > 0) this.#logger.warn({ session: id, skipped }, 'skipped unreadable history lines (a crash during a write?)');
    return entries;
  }

  locationOf(id: string): string {
    return this.#file(id);
  }

  #file(id: string): string {
    return join(this.#dir, `${id}.jsonl`);
  }

  async #readIndex(): Promise<IndexFile> {
    if (this.#index) return this.#index;
    let loaded: IndexFile = { version: 1, sources: {}, sessions: {} };
    try {
      const parsed = JSON.parse(await readFile(join(this.#dir, 'index.json'), 'utf8')) as Partial<IndexFile>;
      loaded = { version: 1, sources: parsed.sources ?? {}, sessions: parsed.sessions ?? {} };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        // Written atomically, so this means a hand edit; start fresh rather than refuse to run.
        this.#logger.error({ err }, '.history/index.json is unreadable; starting a new index (history files are kept)');
      }
    }
    this.#index ??= loaded;
    return this.#index;
  }
}
