/**
 * A bounded set of recently seen ids, oldest forgotten first. The adapter's
 * first line of dedupe: the `app_mention` and `message` copies of one
 * mention, and Slack's retries of an event, arrive within seconds of each
 * other, so a few thousand ids cover them without the journal's file check.
 */
export class RecentIds {
  readonly #ids = new Set<string>();
  readonly #capacity: number;

  constructor(capacity = 2_000) {
    this.#capacity = capacity;
  }

  /** Records `id`; false if it was already there (a duplicate). */
  add(id: string): boolean {
    if (this.#ids.has(id)) return false;
    this.#ids.add(id);
    if (this.#ids.size > this.#capacity) this.#ids.delete(this.#ids.values().next().value as string);
    return true;
  }

  /** Forgets `id` (its handling failed, so a retry may try again). */
  delete(id: string): void {
    this.#ids.delete(id);
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  get size(): number {
    return this.#ids.size;
  }
}
