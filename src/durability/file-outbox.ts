import { join } from 'node:path';
import type { Delivery } from '../channels/types.js';
import type { Logger } from '../logger.js';
import { JsonDir } from './json-dir.js';
import type { Outbox } from './types.js';

/** {@link Outbox} as files under `<workspace>/.events/outbox/`. */
export class FileOutbox implements Outbox {
  readonly #records: JsonDir<Delivery>;

  constructor(workspaceRoot: string, logger: Logger) {
    this.#records = new JsonDir(join(workspaceRoot, '.events', 'outbox'), logger);
  }

  put(delivery: Delivery): Promise<void> {
    return this.#records.write(delivery);
  }

  update(delivery: Delivery): Promise<void> {
    return this.#records.write(delivery);
  }

  remove(id: string): Promise<void> {
    return this.#records.remove(id);
  }

  pending(): Promise<Delivery[]> {
    return this.#records.list();
  }
}
