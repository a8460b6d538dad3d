/** Live figures of one limited pool (an agent, a source, the whole process). */
export interface LimitStats {
  limit: number;
  running: number;
  queued: number;
  /** Seconds the oldest waiter has waited (0 when none). */
  oldestWaitS: number;
}

/** Something waiting for a pool (the admission queue's ticket). */
export interface PoolWaiter {
  /** When it started waiting (the pool's clock). */
  readonly since: number;
}

/**
 * One limit (an agent's `max_concurrency`, a source's `per_source`, the
 * process's `max_total`): how many hold it, who waits for it, and a limit
 * that can change while permits are held. It only counts; the
 * {@link AdmissionController} decides who gets in, so that a run takes all of
 * its permits at once or none.
 */
export class LimitedPool {
  readonly #now: () => number;
  #limit: number;
  #running = 0;
  /** The waiters that need this pool, in no particular order (the controller keeps the order). */
  readonly waiting = new Set<PoolWaiter>();

  constructor(limit: number, now: () => number = Date.now) {
    LimitedPool.check(limit);
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

  get running(): number {
    return this.#running;
  }

  /**
   * Changes the limit for admissions from now on: raising it lets waiters in
   * (once the controller pumps); lowering it lets holders finish and admits
   * nobody until the count is below the new limit.
   */
  setLimit(limit: number): void {
    LimitedPool.check(limit);
    this.#limit = limit;
  }

  /** True when one more holder fits under the limit. */
  hasRoom(): boolean {
    return this.#running < this.#limit;
  }

  /** Permits free right now (never negative). */
  available(): number {
    return Math.max(0, this.#limit - this.#running);
  }

  take(): void {
    this.#running += 1;
  }

  give(): void {
    if (this.#running === 0) throw new Error('LimitedPool.give() without a matching take()');
    this.#running -= 1;
  }

  /** True when nobody holds or waits (the pool can be dropped). */
  get idle(): boolean {
    return this.#running === 0 && this.waiting.size === 0;
  }

  stats(): LimitStats {
    let oldest: number | undefined;
    for (const waiter of this.waiting) if (oldest === undefined || waiter.since < oldest) oldest = waiter.since;
    return {
      limit: this.#limit,
      running: this.#running,
      queued: this.waiting.size,
      oldestWaitS: oldest === undefined ? 0 : (this.#now() - oldest) / 1000,
    };
  }
}
