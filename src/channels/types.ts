import type { InboundMessage, OutboundEvent } from '../events.js';
import type { Logger } from '../logger.js';

/** Where an adapter hands what it received: the server's intake (journal, then worker). */
export interface InboundSink {
  /**
   * Accepts a normalized message. Resolves once it is durably accepted
   * (persisted), so an adapter may acknowledge the platform after it.
   * Returns false for a duplicate (same id already accepted).
   */
  accept(message: InboundMessage): Promise<boolean>;
}

/** One reply (or error notice) to send, as persisted in the outbox. */
export interface Delivery {
  /** Outbox id (stable across restarts). */
  id: string;
  source: string;
  /** Inbound message id this answers (may be absent for background messages). */
  replyTo?: string;
  /** The platform parts, made once by {@link ChannelAdapter.format} and then fixed. */
  chunks: string[];
  /** How many chunks went out already; a retry starts here, never re-sends. */
  sent: number;
  /** Reply or error. */
  kind: 'reply' | 'error';
  context?: Record<string, unknown>;
  /** Session and agent that produced the reply, when known (for adapters that show them). */
  sessionId?: string;
  agentId?: string;
  /** Delivery attempts so far. */
  attempts: number;
  createdAt: string;
}

/**
 * A chat platform (or the web chat) as the server sees it. Modelled on
 * Bolt's small Receiver interface: start/stop the client, say which sources
 * are yours, split replies, send one part. Everything platform-specific
 * (SDKs, ids, formats) stays behind it, in adapters/.
 */
export interface ChannelAdapter {
  /** Short name for logs and metrics, e.g. `discord`. */
  readonly name: string;
  /** True for the sources this adapter delivers to, e.g. `platform-discord:...`. */
  owns(source: string): boolean;
  /** Connects and starts handing inbound messages to `sink`. */
  start(sink: InboundSink, logger: Logger): Promise<void>;
  /** Disconnects; stops taking messages. */
  stop(): Promise<void>;
  /** Splits a reply into the platform's parts (length limits, escaping). Pure. */
  format(text: string, kind: 'reply' | 'error'): string[];
  /**
   * Sends part `index` of a delivery. Throws to have it retried later with
   * backoff; a {@link PermanentDeliveryError} when retrying cannot help; a
   * {@link DeferredDeliveryError} when nobody can receive it now (it waits,
   * without counting attempts, until the server is kicked for that source).
   */
  send(delivery: Delivery, index: number): Promise<void>;
  /** Queue and progress notices (hourglass, typing); best effort, never retried. */
  notify?(event: OutboundEvent): void | Promise<void>;
}

/** A delivery failure that no retry can fix (unknown channel, no such source). */
export class PermanentDeliveryError extends Error {
  override readonly name = 'PermanentDeliveryError';
}

/**
 * Nobody can receive the reply right now (a web chat client is offline). The
 * delivery stays in the outbox, uncounted and without a timer, until
 * `DeliveryWorker.kick(source)` is called when a receiver appears.
 */
export class DeferredDeliveryError extends Error {
  override readonly name = 'DeferredDeliveryError';
}
