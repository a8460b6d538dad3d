import { BrineError } from '../errors.js';
import { LimitedPool, type LimitStats } from './limited-pool.js';

/** Priorities: a person waiting beats background work waiting for the same agent. */
export const Priority = {
  /** A direct message from a person (platforms, web chat, terminal). */
  user: 10,
  /** Cron jobs and other background work. */
  background: 0,
} as const;

/** The priority of a source's work: background for `cron:`, user otherwise. */
export function priorityOf(source: string): number {
  return source.startsWith('cron:') ? Priority.background : Priority.user;
}

/** Process-wide limits, from `concurrency.*`. */
export interface AdmissionLimits {
  /** All turns at once, per process. */
  maxTotal: number;
  /** Turns at once for one source; 0 = no limit. */
  perSource: number;
  /** Waiting turns per agent; past it a request is refused at once. */
  queueLimit: number;
}

/** A run that holds its permits; dispatches made during it are its children. */
export interface Admission {
  readonly agentId: string;
  readonly source: string;
  readonly priority: number;
  readonly parent: Admission | null;
  /** Agents held by this run and its ancestors. */
  readonly chain: readonly string[];
}

/** What one run asks for. */
export interface AdmissionRequest {
  agentId: string;
  source: string;
  priority: number;
  /**
   * The run this one was dispatched from. A child borrows its root's slot of
   * `max_total` (the parent waits on it, so taking another could deadlock).
   */
  parent?: Admission;
  /** Cancels the wait (shutdown, the caller gave up). */
  signal?: AbortSignal;
  /** Longest wait for permits, in ms (queue_timeout_s; a dispatch's timeout). */
  maxWaitMs?: number;
  /** Called at once, with the 1-based position, when the run has to wait. */
  onQueued?: (position: number, waitingFor: 'agent' | 'source' | 'total') => void;
}

/** A run past `queue_limit`. */
export class QueueFullError extends BrineError {
  constructor(agentId: string, waiting: number) {
    super('queue_full', `${agentId} is busy right now (${waiting} messages waiting); please try again shortly.`, { context: { agentId, waiting } });
  }
}

/** A run that waited longer than allowed. */
export class QueueTimeoutError extends BrineError {
  constructor(agentId: string, seconds: number, code = 'queue_timeout') {
    super(code, `${agentId} stayed busy for ${Math.round(seconds)} s, so this was not handled; please send it again.`, { context: { agentId, seconds } });
  }
}

/** A dispatch that would wait on a run that waits on it. */
export class DispatchDeadlockError extends BrineError {
  constructor(message: string) {
    super('dispatch_deadlock', message);
  }
}

interface Held extends Admission {
  /** Agents this run's dispatches wait for now, with how many dispatches wait for each. */
  waitingFor: Map<string, number>;
  children: Set<Held>;
}

/**
 * The one admission policy (DESIGN.md section 4), in one place: every turn
 * (platform message, web chat, terminal, cron, dispatch) runs through
 * {@link run}, which takes, in a fixed order, a permit of its source
 * (`per_source`), of its agent (`max_concurrency`) and of the process
 * (`max_total`, borrowed by dispatched children), each an async-mutex
 * semaphore admitting by priority and then first come, first served; and
 * gives them all back however the run ends.
 */
export class AdmissionController {
  readonly #agents = new Map<string, LimitedPool>();
  readonly #sources = new Map<string, LimitedPool>();
  readonly #total: LimitedPool;
  readonly #holders = new Map<string, Set<Held>>();
  readonly #now: () => number;
  #limits: AdmissionLimits;

  constructor(limits: AdmissionLimits, now: () => number = Date.now) {
    this.#limits = { ...limits };
    this.#now = now;
    this.#total = new LimitedPool(limits.maxTotal, now);
  }

  /** Applies changed process-wide limits to admissions from now on. */
  configure(limits: AdmissionLimits): void {
    this.#total.setLimit(limits.maxTotal);
    if (limits.perSource > 0) for (const pool of this.#sources.values()) pool.setLimit(limits.perSource);
    this.#limits = { ...limits };
  }

  /** Sets an agent's `max_concurrency`; applies to admissions from now on. */
  setLimit(agentId: string, limit: number): void {
    const pool = this.#agents.get(agentId);
    if (pool) pool.setLimit(limit);
    else this.#agents.set(agentId, new LimitedPool(limit, this.#now));
  }

  /** Agents with a limit. */
  agents(): string[] {
    return [...this.#agents.keys()];
  }

  /** An agent's limit, running and queued turns. */
  stats(agentId: string): LimitStats {
    return this.#agents.get(agentId)?.stats() ?? { limit: 0, running: 0, queued: 0, oldestWaitS: 0 };
  }

  /** Free permits of an agent (tests prove nothing leaked with it). */
  available(agentId: string): number {
    return this.#agent(agentId).available();
  }

  /** Sources that run or wait now, with their figures (only while `per_source` is set). */
  sourceStats(): Record<string, LimitStats> {
    return Object.fromEntries([...this.#sources].map(([source, pool]) => [source, pool.stats()]));
  }

  /** The whole process against `max_total`. */
  totalStats(): LimitStats {
    return this.#total.stats();
  }

  /**
   * Runs `fn` once every permit is held. Throws {@link QueueFullError} at
   * once past `queue_limit`, {@link QueueTimeoutError} after `maxWaitMs`,
   * {@link DispatchDeadlockError} when a dispatch would wait for a run that
   * waits for it, or the signal's reason when cancelled.
   */
  async run<T>(request: AdmissionRequest, fn: (admission: Admission) => Promise<T>): Promise<T> {
    const agentPool = this.#agent(request.agentId);
    const parent = request.parent as Held | undefined;
    if (parent) this.#refuseDeadlock(parent, request.agentId, agentPool);
    if (agentPool.wouldWait(request.priority) && agentPool.stats().queued >= this.#limits.queueLimit) {
      throw new QueueFullError(request.agentId, agentPool.stats().queued);
    }
    const sourcePool = this.#sourcePool(request.source);
    const pools: [LimitedPool, 'source' | 'agent' | 'total'][] = [
      ...(sourcePool ? [[sourcePool, 'source'] as [LimitedPool, 'source']] : []),
      [agentPool, 'agent'],
      ...(parent ? [] : [[this.#total, 'total'] as [LimitedPool, 'total']]),
    ];
    const blocking = pools.find(([pool]) => pool.wouldWait(request.priority));
    if (blocking) request.onQueued?.(blocking[0].positionFor(request.priority), blocking[1]);

    const timeout = request.maxWaitMs === undefined ? undefined : AbortSignal.timeout(request.maxWaitMs);
    const signals = [request.signal, timeout].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    const releases: (() => void)[] = [];
    const start = this.#now();
    if (parent) parent.waitingFor.set(request.agentId, (parent.waitingFor.get(request.agentId) ?? 0) + 1);
    try {
      for (const [pool] of pools) releases.push(await pool.acquire({ priority: request.priority, ...(signal && { signal }) }));
    } catch (err) {
      for (const release of releases.reverse()) release();
      this.#dropIdleSource(request.source);
      if (timeout?.aborted && !request.signal?.aborted) {
        throw new QueueTimeoutError(request.agentId, (this.#now() - start) / 1000, parent ? 'dispatch_timeout' : 'queue_timeout');
      }
      throw err;
    } finally {
      if (parent) {
        const left = (parent.waitingFor.get(request.agentId) ?? 1) - 1;
        if (left > 0) parent.waitingFor.set(request.agentId, left);
        else parent.waitingFor.delete(request.agentId);
      }
    }

    const held: Held = {
      agentId: request.agentId,
      source: request.source,
      priority: request.priority,
      parent: parent ?? null,
      chain: [...(parent?.chain ?? []), request.agentId],
      waitingFor: new Map(),
      children: new Set(),
    };
    parent?.children.add(held);
    const holders = this.#holders.get(request.agentId) ?? new Set<Held>();
    this.#holders.set(request.agentId, holders);
    holders.add(held);
    try {
      return await fn(held);
    } finally {
      holders.delete(held);
      parent?.children.delete(held);
      for (const release of releases.reverse()) release();
      this.#dropIdleSource(request.source);
    }
  }

  /** Milliseconds since `since` by this controller's clock. */
  elapsedMs(since: number): number {
    return this.#now() - since;
  }

  /**
   * A dispatch from `parent` to `agentId` must not wait if every permit of
   * that agent is held by runs that (themselves or through their own
   * dispatches) wait for an agent on the parent's chain: neither side could
   * ever move. Longer cycles are bounded by the dispatch timeout instead.
   */
  #refuseDeadlock(parent: Held, agentId: string, pool: LimitedPool): void {
    if (!pool.wouldWait(parent.priority)) return;
    const ours = new Set(parent.chain);
    const holders = [...(this.#holders.get(agentId) ?? [])];
    const stuck = (run: Held): boolean => [...run.waitingFor.keys()].some((agent) => ours.has(agent)) || [...run.children].some(stuck);
    if (holders.length > 0 && holders.every(stuck)) {
      const blocked = holders.find(stuck)!;
      throw new DispatchDeadlockError(
        `dispatch refused: ${agentId} is busy with a turn (${blocked.chain.join(' -> ')}) that is itself waiting for ${parent.chain.join(' or ')}, which this turn holds; waiting would deadlock. Do the work yourself or try again later.`,
      );
    }
  }

  #agent(agentId: string): LimitedPool {
    const pool = this.#agents.get(agentId);
    if (!pool) throw new RangeError(`no concurrency limit set for agent "${agentId}"`);
    return pool;
  }

  #sourcePool(source: string): LimitedPool | undefined {
    if (this.#limits.perSource <= 0) return undefined;
    let pool = this.#sources.get(source);
    if (!pool) this.#sources.set(source, (pool = new LimitedPool(this.#limits.perSource, this.#now)));
    return pool;
  }

  /** Source pools are made on demand and dropped only when nobody holds or waits (never with permits out). */
  #dropIdleSource(source: string): void {
    const pool = this.#sources.get(source);
    if (pool?.idle) this.#sources.delete(source);
  }
}
