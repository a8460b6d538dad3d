import { Semaphore } from 'async-mutex';
import { BrineError } from '../errors.js';

/** Live figures of one limited pool (an agent, a source, the whole process). */
export interface LimitStats {
  limit: number;
  running: number;
  queued: number;
  /** Seconds the oldest waiter has waited (0 when none). */
  oldestWaitS: number;
}

/** How a waiter asks for a permit. */
export interface AcquireOptions {
  /** Higher is admitted first; equal priorities are first come, first served. */
  priority?: number;
  /** Gives up waiting (the permit, if granted later, is handed straight back). */
  signal?: AbortSignal;
}

interface Waiter {
  since: number;
  priority: number;
}

/**
 * At most `limit` holders at once: an async-mutex `Semaphore` with
 * priorities, plus the figures status needs and a limit that can change
 * while permits are held. Permits are only taken and given back inside
 * {@link run}, so no path can leak one.
 */
export class LimitedPool {
  readonly #semaphore: Semaphore;
  readonly #now: () => number;
  #limit: number;
  #running = 0;
  readonly #waiting: Waiter[] = [];

  constructor(limit: number, now: () => number = Date.now) {
    LimitedPool.check(limit);
    this.#semaphore = new Semaphore(limit);
    this.#limit = limit;
    this.#now = now;
  }

  /** Throws a RangeError unless `limit` is an integer >= 1. */
  static check(limit: number): void {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a limit must be an integer >= 1 (got ${limit})`);
  }

  get limit(): number {
    return this.#limit;
  }

  /**
   * Changes the limit for admissions from now on: raising it admits waiters
   * at once; lowering it lets holders finish and admits nobody until the
   * count is below the new limit.
   */
  setLimit(limit: number): void {
    LimitedPool.check(limit);
    if (limit === this.#limit) return;
    this.#semaphore.setValue(this.#semaphore.getValue() + (limit - this.#limit));
    this.#limit = limit;
  }

  /** True when a request of this priority would have to wait now. */
  wouldWait(priority = 0): boolean {
    return this.#semaphore.getValue() <= 0 || this.#waiting.some((w) => w.priority >= priority);
  }

  /** 1-based place a request of this priority would take in the queue. */
  positionFor(priority = 0): number {
    return this.#waiting.filter((w) => w.priority >= priority).length + 1;
  }

  /** Free permits right now (tests use it to prove nothing leaked). */
  available(): number {
    return this.#semaphore.getValue();
  }

  /** True when nobody holds or waits (the pool can be dropped). */
  get idle(): boolean {
    return this.#running === 0 && this.#waiting.length === 0;
  }

  stats(): LimitStats {
    const oldest = this.#waiting.reduce<number | undefined>((min, w) => (min === undefined || w.since < min ? w.since : min), undefined);
    return {
      limit: this.#limit,
      running: this.#running,
      queued: this.#waiting.length,
      oldestWaitS: oldest === undefined ? 0 : (this.#now() - oldest) / 1000,
    };
  }

  /**
   * Waits for a permit and returns its release function (call it exactly
   * once; {@link run} does). Rejects with the signal's reason if it aborts
   * first; a permit granted after that is released at once.
   */
  async acquire(options: AcquireOptions = {}): Promise<() => void> {
    const priority = options.priority ?? 0;
    options.signal?.throwIfAborted();
    // async-mutex grants a free permit synchronously inside acquire(), so only
    // a request that would wait is counted as queued.
    const waiter: Waiter | null = this.wouldWait(priority) ? { since: this.#now(), priority } : null;
    if (waiter) this.#waiting.push(waiter);
    const granted = this.#semaphore.acquire(1, priority);
    const leave = () => {
      const index = waiter ? this.#waiting.indexOf(waiter) : -1;
      if (index >= 0) this.#waiting.splice(index, 1);
    };
    let release: () => void;
    try {
      [, release] = await abortable(granted, options.signal);
    } catch (err) {
      leave();
      // The semaphore may still grant later: hand that permit straight back.
      void granted.then(([, late]) => late(), () => undefined);
      throw err;
    }
    leave();
    this.#running += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#running -= 1;
      release();
    };
  }

  /** Runs `fn` holding a permit, and always gives it back. */
  async run<T>(fn: () => Promise<T>, options: AcquireOptions = {}): Promise<T> {
    const release = await this.acquire(options);
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/** Races `promise` against `signal`; the abort reason (or a BrineError) rejects. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason ?? new BrineError('aborted', 'The wait was cancelled.'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
