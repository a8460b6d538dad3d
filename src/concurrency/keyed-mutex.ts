import { Mutex } from 'async-mutex';

/**
 * One async-mutex `Mutex` per key (a source, a session), created on demand
 * and dropped when nobody holds or waits for it, so idle keys cost nothing.
 * Waiters for the same key run in arrival order.
 */
export class KeyedMutex {
  readonly #locks = new Map<string, { mutex: Mutex; users: number }>();

  /** Runs `fn` while holding the lock of `key`. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let lock = this.#locks.get(key);
    if (!lock) this.#locks.set(key, (lock = { mutex: new Mutex(), users: 0 }));
    lock.users += 1;
    try {
      return await lock.mutex.runExclusive(fn);
    } finally {
      lock.users -= 1;
      if (lock.users === 0) this.#locks.delete(key);
    }
  }

  /** How many runs hold or wait for `key` (0 when it is free). */
  users(key: string): number {
    return this.#locks.get(key)?.users ?? 0;
  }

  /** Keys currently held or waited for. */
  get size(): number {
    return this.#locks.size;
  }
}
