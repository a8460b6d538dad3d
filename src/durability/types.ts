import type { InboundMessage } from '../events.js';
import type { Delivery } from '../channels/types.js';

/**
 * Accepted messages that are not answered yet (DESIGN.md section 6). The
 * in-process default keeps one file per message under `.events/inbound/`.
 */
export interface InboundJournal {
  /** Persists an accepted message; false if its id is already in the journal. */
  add(message: InboundMessage): Promise<boolean>;
  /** Forgets a message once its answer is in the outbox. */
  remove(id: string): Promise<void>;
  /** Every message still waiting, in acceptance order. */
  pending(): Promise<InboundMessage[]>;
}

/**
 * Replies waiting to be delivered. Persisted before the first send and
 * removed when the adapter confirmed the last part, so a crash in between
 * never loses or duplicates a part.
 */
export interface Outbox {
  put(delivery: Delivery): Promise<void>;
  /** Records progress (parts sent, attempts). */
  update(delivery: Delivery): Promise<void>;
  remove(id: string): Promise<void>;
  /** Every undelivered reply, oldest first. */
  pending(): Promise<Delivery[]>;
}
