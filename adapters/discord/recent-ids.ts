/**
 * A bounded set of recently seen ids, oldest forgotten first. The Discord
 * gateway can deliver a MESSAGE_CREATE twice (a RESUME replays what the
 * client may already have seen); the server's journal dedupes accepted
 * messages too, but only while they are pending, so the adapter keeps its own
 * short memory and drops a replay before it costs anything.
 */
export class RecentIds {
  readonly #capacity: number;
  readonly #ids = new Set<string>();

  constructor(capacity = 2_000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be an integer >= 1, got ${capacity}`);
    this.#capacity = capacity;
  }

  /** Remembers `id`; returns false if it was already remembered (a duplicate). */
  add(id: string): boolean {
    if (this.#ids.has(id)) return false;
    this.#ids.add(id);
    // A Set iterates in insertion order, so the first entry is the oldest.
    if (this.#ids.size > this.#capacity) {
      const oldest = this.#ids.values().next().value;
      if (oldest !== undefined) this.#ids.delete(oldest);
    }
    return true;
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /** Forgets `id` (its message was not accepted after all, so a redelivery may try again). */
  delete(id: string): void {
    this.#ids.delete(id);
  }

  get size(): number {
    return this.#ids.size;
  }
}
