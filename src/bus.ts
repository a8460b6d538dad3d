import type { Logger } from './logger.js';
import type { InboundMessage, OutboundEvent } from './events.js';

/** Topics on the bus and what they carry. */
export interface BusTopics {
  inbound: InboundMessage;
  outbound: OutboundEvent;
}

type Handler<T> = (payload: T) => void | Promise<void>;

/**
 * The in-process event bus: adapters publish `inbound`, the worker publishes
 * `outbound`. Publishing never waits for handlers, and a handler that throws
 * or rejects is logged without affecting the others, so a slow or failing
 * adapter cannot stall the rest of the bot.
 */
export class EventBus {
  readonly #handlers: { [K in keyof BusTopics]: Set<Handler<BusTopics[K]>> } = { inbound: new Set(), outbound: new Set() };
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends keyof BusTopics>(topic: K, handler: Handler<BusTopics[K]>): () => void {
    const set = this.#handlers[topic] as Set<Handler<BusTopics[K]>>;
    set.add(handler);
    return () => set.delete(handler);
  }

  /** Delivers `payload` to every subscriber of `topic`. */
  publish<K extends keyof BusTopics>(topic: K, payload: BusTopics[K]): void {
    for (const handler of [...(this.#handlers[topic] as Set<Handler<BusTopics[K]>>)]) {
      try {
        const result = handler(payload);
        if (result instanceof Promise) result.catch((err: unknown) => this.#logger.error({ err, topic }, 'bus handler failed'));
      } catch (err) {
        this.#logger.error({ err, topic }, 'bus handler failed');
      }
    }
  }
}
