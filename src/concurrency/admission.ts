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
    const waited = seconds < 10 ? seconds.toFixed(1) : String(Math.round(seconds));
    const tail = code === 'dispatch_timeout' ? 'so the dispatch was given up; do the work yourself or try again later.' : 'so this was not handled; please send it again.';
    super(code, `${agentId} stayed busy for ${waited} s, ${tail}`, { context: { agentId, seconds } });
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

type PoolKind = 'source' | 'agent' | 'total';

/** A request waiting in the admission queue. */
interface Ticket {
  /** True while the ticket is in the queue. */
  queued: boolean;
  readonly seq: number;
  readonly priority: number;
  readonly since: number;
  readonly pools: readonly (readonly [LimitedPool, PoolKind])[];
  admit: () => void;
}

/**
 * The one admission policy (DESIGN.md section 4), in one place: every turn
 * (platform message, web chat, terminal, cron, dispatch) runs through
 * {@link run}, which needs a permit of its source (`per_source`), of its agent
 * (`max_concurrency`) and of the process (`max_total`, borrowed by dispatched
 * children), and gives them all back however the run ends.
 *
 * Why one ordered queue rather than a semaphore per limit: a run must take
 * all of its permits at once. Taken one after another (as chained async-mutex
 * semaphores would), a waiting run holds its agent's permit while it waits
 * for a process slot, which starves a dispatched child of that agent and lets
 * a cron job that arrived first keep a person waiting. So waiters queue here
 * by priority, then arrival, and whenever a permit frees up the queue is
 * walked front to back: the first waiter whose pools all have room gets in.
 * A waiter holds nothing while it waits, so it never holds up waiters that
 * need other pools.
 */
export class AdmissionController {
  readonly #agents = new Map<string, LimitedPool>();
  readonly #sources = new Map<string, LimitedPool>();
  readonly #total: LimitedPool;
  readonly #holders = new Map<string, Set<Held>>();
  readonly #queue: Ticket[] = [];
  readonly #now: () => number;
  #limits: AdmissionLimits;
  #seq = 0;
  /** Queued dispatch children (the only waiters that need no process slot). */
  #childrenWaiting = 0;

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
    this.#pump();
  }

  /** Sets an agent's `max_concurrency`; applies to admissions from now on. */
  setLimit(agentId: string, limit: number): void {
    const pool = this.#agents.get(agentId);
    if (pool) pool.setLimit(limit);
    else this.#agents.set(agentId, new LimitedPool(limit, this.#now));
    this.#pump();
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
    request.signal?.throwIfAborted();
    const agentPool = this.#agent(request.agentId);
    const parent = request.parent as Held | undefined;
    const sourcePool = this.#sourcePool(request.source);
    const pools: (readonly [LimitedPool, PoolKind])[] = [
      ...(sourcePool ? [[sourcePool, 'source'] as const] : []),
      [agentPool, 'agent'] as const,
      ...(parent ? [] : [[this.#total, 'total'] as const]),
    ];
    // Waiters never hold a full pool's place, so "the agent would make this
    // wait" is exactly "the agent has no free permit" (see #pump).
    const agentBusy = !agentPool.hasRoom();
    try {
      if (parent && agentBusy) this.#refuseDeadlock(parent, request.agentId);
      if (agentBusy && agentPool.waiting.size >= this.#limits.queueLimit) throw new QueueFullError(request.agentId, agentPool.waiting.size);
    } catch (err) {
      this.#dropIdleSource(request.source);
      throw err;
    }
    if (parent) parent.waitingFor.set(request.agentId, (parent.waitingFor.get(request.agentId) ?? 0) + 1);
    try {
      await this.#admit(request, pools);
    } catch (err) {
      this.#dropIdleSource(request.source);
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
      for (const [pool] of pools) pool.give();
      this.#dropIdleSource(request.source);
      this.#pump();
    }
  }

  /** Queues the request and resolves once it holds every pool's permit. */
  #admit(request: AdmissionRequest, pools: readonly (readonly [LimitedPool, PoolKind])[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const started = this.#now();
      let timer: NodeJS.Timeout | undefined;
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        request.signal?.removeEventListener('abort', onAbort);
      };
      const ticket: Ticket = {
        queued: true,
        seq: this.#seq++,
        priority: request.priority,
        since: started,
        pools,
        admit: () => {
          cleanup();
          resolve();
        },
      };
      const leave = (err: unknown) => {
        if (!ticket.queued) return; // admitted meanwhile
        this.#dequeue(ticket);
        cleanup();
        reject(err);
        this.#pump(); // a blocked waiter leaving may let others in
      };
      const onAbort = () => leave(request.signal?.reason ?? new BrineError('aborted', 'The wait was cancelled.'));

      // Insert by priority (higher first), then arrival: after the last of equal or higher priority.
      let at = this.#queue.length;
      while (at > 0 && this.#queue[at - 1]!.priority < ticket.priority) at -= 1;
      this.#queue.splice(at, 0, ticket);
      for (const [pool] of pools) pool.waiting.add(ticket);
      if (!pools.some(([, kind]) => kind === 'total')) this.#childrenWaiting += 1;
      this.#pump();
      if (!ticket.queued) return; // admitted at once

      const blocking = this.#blockingPool(ticket);
      if (blocking) request.onQueued?.(this.#positionIn(ticket, blocking[0]), blocking[1]);
      request.signal?.addEventListener('abort', onAbort, { once: true });
      if (request.maxWaitMs !== undefined) {
        timer = setTimeout(() => {
          leave(new QueueTimeoutError(request.agentId, (this.#now() - started) / 1000, request.parent ? 'dispatch_timeout' : 'queue_timeout'));
        }, request.maxWaitMs);
      }
    });
  }

  /**
   * Admits, in queue order, every waiter whose pools all have room. Taking
   * permits only here, front to back, is what keeps each pool first come,
   * first served within a priority: an earlier waiter is always offered a
   * freed permit first. A waiter blocked on one pool holds nothing, so later
   * waiters that need other pools go ahead.
   */
  #pump(): void {
    for (let i = 0; i < this.#queue.length; ) {
      // Everyone left needs a process slot and there is none: stop early (queues can be long).
      if (this.#childrenWaiting === 0 && !this.#total.hasRoom()) return;
      const ticket = this.#queue[i]!;
      let fits = true;
      for (const [pool] of ticket.pools) if (!pool.hasRoom()) fits = false;
      if (!fits) {
        i += 1;
        continue;
      }
      this.#dequeue(ticket);
      for (const [pool] of ticket.pools) pool.take();
      ticket.admit();
    }
  }

  /** Takes a ticket out of the queue and its pools' waiting sets. */
  #dequeue(ticket: Ticket): void {
    const index = this.#queue.indexOf(ticket);
    if (index >= 0) this.#queue.splice(index, 1);
    ticket.queued = false;
    for (const [pool] of ticket.pools) pool.waiting.delete(ticket);
    if (!ticket.pools.some(([, kind]) => kind === 'total')) this.#childrenWaiting -= 1;
  }

  /** The first pool that keeps a queued ticket waiting, for its notice. */
  #blockingPool(ticket: Ticket): readonly [LimitedPool, PoolKind] | undefined {
    return ticket.pools.find(([pool]) => !pool.hasRoom());
  }

  /** 1-based place of a ticket among the waiters of one pool. */
  #positionIn(ticket: Ticket, pool: LimitedPool): number {
    let position = 1;
    for (const other of this.#queue) {
      if (other === ticket) break;
      if (other.pools.some(([p]) => p === pool)) position += 1;
    }
    return position;
  }

  /**
   * A dispatch from `parent` to `agentId` must not wait if every permit of
   * that agent is held by runs that (themselves or through their own
   * dispatches) wait for an agent on the parent's chain: neither side could
   * ever move. Longer cycles are bounded by the dispatch timeout instead.
   */
  #refuseDeadlock(parent: Held, agentId: string): void {
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
