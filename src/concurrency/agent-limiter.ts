import { Semaphore } from 'async-mutex';

/** Live figures of one limited thing (an agent). */
export interface LimitStats {
  limit: number;
  running: number;
  queued: number;
  /** Seconds the oldest waiter has waited (0 when none). */
  oldestWaitS: number;
}

/**
 * Admits at most `limit` runs per agent at once. The in-process default is
 * {@link SemaphoreAgentLimiter}; a distributed backend can implement this.
 */
export interface AgentLimiter {
  /**
   * Runs `fn` once a permit for `agentId` is free (first come, first served)
   * and always gives the permit back. `onQueued` is called at once, with the
   * 1-based queue position, if the run has to wait.
   */
  run<T>(agentId: string, fn: () => Promise<T>, onQueued?: (position: number) => void): Promise<T>;
  /** Sets an agent's limit; applies to admissions from now on. */
  setLimit(agentId: string, limit: number): void;
  stats(agentId: string): LimitStats;
  /** Agents known to the limiter. */
  agents(): string[];
}

interface Slot {
  semaphore: Semaphore;
  limit: number;
  running: number;
  /** The runs waiting for a permit, oldest first. */
  waiting: { since: number }[];
}

/**
 * One async-mutex `Semaphore(max_concurrency)` per agent. Slots are never
 * deleted: removing a semaphore while permits are held would let a fresh one
 * admit more than the limit (the bug of the Python original).
 */
export class SemaphoreAgentLimiter implements AgentLimiter {
  readonly #slots = new Map<string, Slot>();
  readonly #now: () => number;

  constructor(limits: Iterable<[string, number]> = [], now: () => number = Date.now) {
    this.#now = now;
    for (const [agentId, limit] of limits) this.setLimit(agentId, limit);
  }

  setLimit(agentId: string, limit: number): void {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit for ${agentId} must be an integer >= 1 (got ${limit})`);
    const slot = this.#slots.get(agentId);
    if (!slot) {
      this.#slots.set(agentId, { semaphore: new Semaphore(limit), limit, running: 0, waiting: [] });
      return;
    }
    if (slot.limit === limit) return;
    // Shift the free permits by the change: raising admits waiters at once,
    // lowering lets running turns finish and admits nobody until below the new limit.
    slot.semaphore.setValue(slot.semaphore.getValue() + (limit - slot.limit));
    slot.limit = limit;
  }

  async run<T>(agentId: string, fn: () => Promise<T>, onQueued?: (position: number) => void): Promise<T> {
    const slot = this.#slot(agentId);
    // async-mutex takes a free permit synchronously inside acquire(), so a
    // value <= 0 here means this run really has to wait behind others.
    const waiter = slot.semaphore.getValue() <= 0 ? { since: this.#now() } : null;
    if (waiter) {
      slot.waiting.push(waiter);
      onQueued?.(slot.waiting.length);
    }
    return slot.semaphore.runExclusive(async () => {
      if (waiter) slot.waiting.splice(slot.waiting.indexOf(waiter), 1);
      slot.running += 1;
      try {
        return await fn();
      } finally {
        slot.running -= 1;
      }
    });
  }

  stats(agentId: string): LimitStats {
    const slot = this.#slots.get(agentId);
    if (!slot) return { limit: 0, running: 0, queued: 0, oldestWaitS: 0 };
    const oldest = slot.waiting[0];
    return {
      limit: slot.limit,
      running: slot.running,
      queued: slot.waiting.length,
      oldestWaitS: oldest === undefined ? 0 : (this.#now() - oldest.since) / 1000,
    };
  }

  agents(): string[] {
    return [...this.#slots.keys()];
  }

  /** Free permits right now (tests use it to prove nothing leaked). */
  available(agentId: string): number {
    return this.#slot(agentId).semaphore.getValue();
  }

  #slot(agentId: string): Slot {
    const slot = this.#slots.get(agentId);
    if (!slot) throw new RangeError(`no concurrency limit set for agent "${agentId}"`);
    return slot;
  }
}
