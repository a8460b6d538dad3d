import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { writeFileAtomic } from '../util/atomic-write.js';
import type { Logger } from '../logger.js';

/**
 * A folder of JSON records, one file each, written atomically, listed in the
 * order they were first written. The shared storage of the file-based journal
 * and outbox: small, crash-safe, and easy to inspect by hand.
 */
export class JsonDir<T extends { id: string }> {
  readonly #dir: string;
  readonly #logger: Logger;
  /** id -> file name, so updates keep their place in the order. */
  readonly #files = new Map<string, string>();
  #loaded = false;
  #counter = 0;

  constructor(dir: string, logger: Logger) {
    this.#dir = dir;
    this.#logger = logger;
  }

  async has(id: string): Promise<boolean> {
    await this.#load();
    return this.#files.has(id);
  }

  /** Writes a new record or replaces an existing one (keeping its position). */
  async write(record: T): Promise<void> {
    await this.#load();
    let file = this.#files.get(record.id);
    if (!file) {
      // Sortable: time, then a counter for records of the same millisecond.
      const order = `${Date.now().toString().padStart(15, '0')}-${(this.#counter++).toString().padStart(6, '0')}`;
      file = `${order}-${createHash('sha1').update(record.id).digest('hex').slice(0, 12)}.json`;
      this.#files.set(record.id, file);
    }
    await writeFileAtomic(join(this.#dir, file), JSON.stringify(record));
  }

  async remove(id: string): Promise<void> {
    await this.#load();
    const file = this.#files.get(id);
    if (!file) return;
    this.#files.delete(id);
    await rm(join(this.#dir, file), { force: true });
  }

  /** All records, oldest first. Unreadable files are logged and skipped (kept on disk). */
  async list(): Promise<T[]> {
    await this.#load();
    const out: T[] = [];
    for (const file of [...this.#files.values()].sort()) {
      try {
        out.push(JSON.parse(await readFile(join(this.#dir, file), 'utf8')) as T);
      } catch (err) {
        this.#logger.error({ err, file: join(this.#dir, file) }, 'unreadable record skipped');
      }
    }
    return out;
  }

  async #load(): Promise<void> {
    if (this.#loaded) return;
    this.#loaded = true;
    await mkdir(this.#dir, { recursive: true });
    for (const file of (await readdir(this.#dir)).sort()) {
      // A crash during an atomic write leaves its temp file; the record itself is intact.
      if (file.startsWith('.') && file.endsWith('.tmp')) {
        await rm(join(this.#dir, file), { force: true });
        continue;
      }
      if (!file.endsWith('.json') || file.startsWith('.')) continue;
      try {
        const record = JSON.parse(await readFile(join(this.#dir, file), 'utf8')) as T;
        this.#files.set(record.id, file);
      } catch (err) {
        this.#logger.error({ err, file: join(this.#dir, file) }, 'unreadable record left in place');
      }
    }
  }
}
