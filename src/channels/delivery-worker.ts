import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { OutboundEvent } from '../events.js';
import type { Outbox } from '../durability/types.js';
import { KeyedMutex } from '../concurrency/keyed-mutex.js';
import { DeferredDeliveryError, PermanentDeliveryError, type ChannelAdapter, type Delivery } from './types.js';

/** Retry schedule of a failing delivery. */
export interface RetryPolicy {
  baseMs: number;
  maxMs: number;
  /** After this many failed attempts the delivery is dropped with an error log. */
  maxAttempts: number;
}

const DEFAULT_RETRY: RetryPolicy = { baseMs: 1_000, maxMs: 300_000, maxAttempts: 30 };

/** Sources of background work, whose replies go to `default_delivery_source`. */
const BACKGROUND = /^(cron|agent):/;

/** Delivery counters the metrics read. */
export interface DeliveryObserver {
  delivered(channel: string): void;
  failed(channel: string, permanent: boolean): void;
}

/**
 * Sends replies through the adapters, durably: each reply is split once by
 * its adapter, persisted in the outbox, and its parts are sent in order; the
 * outbox records how many went out, so a retry (or a restart) resumes at the
 * first unsent part and never repeats one. Deliveries to one source keep
 * their order (a retrying reply holds its source's chain); a slow or failing
 * source never holds up another (each source has its own chain, and nothing
 * waits on the bus).
 */
export class DeliveryWorker {
  readonly #outbox: Outbox;
  readonly #adapters: () => readonly ChannelAdapter[];
  readonly #defaultSource: () => string | null;
  readonly #logger: Logger;
  readonly #retry: RetryPolicy;
  readonly #observer: DeliveryObserver | undefined;
  readonly #chains = new KeyedMutex();
  /** Wake-ups of deliveries waiting to retry, by source. */
  readonly #sleepers = new Map<string, Set<() => void>>();
  /** Deliveries whose send loop is queued or running. */
  readonly #scheduled = new Set<string>();
  readonly #inFlight = new Set<Promise<void>>();
  /** The deliveries not yet done, by id: the one copy every attempt works on. */
  readonly #live = new Map<string, Delivery>();
  #stopped = false;

  constructor(options: {
    outbox: Outbox;
    adapters: () => readonly ChannelAdapter[];
    defaultDeliverySource: () => string | null;
    logger: Logger;
    retry?: Partial<RetryPolicy>;
    observer?: DeliveryObserver;
  }) {
    this.#outbox = options.outbox;
    this.#adapters = options.adapters;
    this.#defaultSource = options.defaultDeliverySource;
    this.#logger = options.logger;
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    this.#observer = options.observer;
  }

  /** Where a source's replies go: itself, or `default_delivery_source` for background work. */
  targetOf(source: string): string | null {
    return BACKGROUND.test(source) ? this.#defaultSource() : source;
  }

  /**
   * Persists a reply or error event and starts sending it. Resolves once it
   * is in the outbox (not when sent). Returns null when it has nowhere to go.
   */
  async enqueue(event: OutboundEvent): Promise<Delivery | null> {
    const target = this.targetOf(event.source);
    const kind = event.type === 'error' ? 'error' : 'reply';
    if (!target) {
      this.#logger.warn({ source: event.source }, 'a background reply has no destination; set default_delivery_source to receive it');
      return null;
    }
    const adapter = this.#adapterFor(target);
    if (!adapter) {
      this.#logger.warn({ source: target }, 'no enabled channel delivers to this source; reply dropped');
      return null;
    }
    const delivery: Delivery = {
      id: randomUUID(),
      source: target,
      ...(event.replyTo && target === event.source && { replyTo: event.replyTo }),
      chunks: adapter.format(event.content, kind),
      sent: 0,
      kind,
      ...(event.context && target === event.source && { context: event.context }),
      ...(event.sessionId && { sessionId: event.sessionId }),
      ...(event.agentId && { agentId: event.agentId }),
      attempts: 0,
      createdAt: new Date().toISOString(),
    };
    await this.#outbox.put(delivery);
    this.#live.set(delivery.id, delivery);
    this.#schedule(delivery.id);
    return delivery;
  }

  /** Sends everything left in the outbox (on start). */
  async resume(): Promise<number> {
    const pending = await this.#outbox.pending();
    for (const delivery of pending) {
      if (!this.#live.has(delivery.id)) this.#live.set(delivery.id, delivery);
      this.#schedule(delivery.id);
    }
    return pending.length;
  }

  /** Retries a source's waiting deliveries now (e.g. a web client reconnected). */
  kick(source: string): void {
    for (const wake of this.#sleepers.get(source) ?? []) wake();
    for (const delivery of this.#live.values()) if (delivery.source === source) this.#schedule(delivery.id);
  }

  /** Stops retrying and waits for sends in progress. Undelivered replies stay in the outbox. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const wakes of this.#sleepers.values()) for (const wake of wakes) wake();
    await Promise.allSettled([...this.#inFlight]);
  }

  /** Resolves when nothing is being sent or waiting to retry (tests). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  #adapterFor(source: string): ChannelAdapter | undefined {
    return this.#adapters().find((a) => a.owns(source));
  }

  /** Starts a delivery's send loop on its source's chain, unless it is already on it. */
  #schedule(id: string): void {
    const delivery = this.#live.get(id);
    if (this.#stopped || !delivery || this.#scheduled.has(id)) return;
    this.#scheduled.add(id);
    const work = this.#chains
      .run(delivery.source, () => this.#deliver(id))
      .catch((err: unknown) => this.#logger.error({ err, delivery: id }, 'delivery crashed'))
      .finally(() => {
        this.#scheduled.delete(id);
        this.#inFlight.delete(work);
      });
    this.#inFlight.add(work);
  }

  /**
   * Sends the remaining parts, retrying with backoff while holding the
   * source's chain, so later replies to the same source wait their turn
   * (order kept) while other sources go on.
   */
  async #deliver(id: string): Promise<void> {
    for (;;) {
      const delivery = this.#live.get(id);
      if (this.#stopped || !delivery) return;
      const adapter = this.#adapterFor(delivery.source);
      if (!adapter) {
        this.#logger.warn({ source: delivery.source, delivery: id }, 'no enabled channel delivers to this source; kept in the outbox');
        return;
      }
      try {
        while (delivery.sent < delivery.chunks.length) {
          await adapter.send(delivery, delivery.sent);
          delivery.sent += 1;
          // Progress first: after a crash, the parts already sent are not sent again.
          if (delivery.sent < delivery.chunks.length) await this.#outbox.update(delivery);
        }
      } catch (err) {
        if (err instanceof DeferredDeliveryError) {
          // Waits for kick(source); progress so far is already on disk.
          this.#logger.debug({ source: delivery.source, delivery: id }, 'no receiver now; the reply waits in the outbox');
          return;
        }
        delivery.attempts += 1;
        const permanent = err instanceof PermanentDeliveryError || delivery.attempts >= this.#retry.maxAttempts;
        this.#observer?.failed(adapter.name, permanent);
        if (permanent) {
          this.#logger.error({ err, source: delivery.source, delivery: id, attempts: delivery.attempts }, 'delivery failed for good; dropped');
          this.#live.delete(id);
          await this.#outbox.remove(id);
          return;
        }
        const delay = Math.min(this.#retry.maxMs, this.#retry.baseMs * 2 ** (delivery.attempts - 1));
        this.#logger.warn({ err: String(err), source: delivery.source, delivery: id, retryInMs: delay }, 'delivery failed; will retry');
        await this.#outbox.update(delivery);
        await this.#sleep(delivery.source, delay);
        continue;
      }
      this.#live.delete(id);
      await this.#outbox.remove(id);
      this.#observer?.delivered(adapter.name);
      return;
    }
  }

  /** Waits `ms`, or less if the source is kicked or the worker stops. */
  #sleep(source: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wakes = this.#sleepers.get(source) ?? new Set<() => void>();
      this.#sleepers.set(source, wakes);
      const wake = () => {
        clearTimeout(timer);
        wakes.delete(wake);
        if (wakes.size === 0) this.#sleepers.delete(source);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      wakes.add(wake);
    });
  }

  /** Deliveries not yet done (status, tests). */
  get pendingCount(): number {
    return this.#live.size;
  }
}
