/**
 * The one event shape every adapter normalizes into, and the events the core
 * sends back. Adapters (Discord, Slack, terminal, web chat) only ever speak
 * these; the core never sees a platform payload.
 */

/** A message that arrived from a person (or a cron job) for an agent. */
export interface InboundMessage {
  /** Unique id of this event (platform message id where there is one; used for dedupe and replies). */
  id: string;
  /** DESIGN.md source string, e.g. `platform-discord:<user>:<channel>`. */
  source: string;
  /** The text, mention of the bot already stripped by the adapter. */
  content: string;
  /** ISO time the adapter received it. */
  receivedAt: string;
  /**
   * Ask for a specific agent (e.g. `brine chat --agent cookie`). If the
   * source's session talks to another agent, a new session is started.
   */
  agentId?: string;
  /** Who sent it, for logs and prompts. */
  author?: { id: string; name?: string };
  /**
   * Platform facts the adapter needs to answer in the right place (channel,
   * thread, message id). Opaque to the core, copied onto every outbound event
   * for this message, and persisted with it.
   */
  context?: Record<string, unknown>;
  /** `true` for work the server re-queued on start after a restart. */
  resumed?: boolean;
}

/** Kinds of outbound event, as in DESIGN.md section 5. */
export type OutboundType = 'queued' | 'started' | 'reply' | 'error';

/** What the core sends back to the source an inbound message came from. */
export interface OutboundEvent {
  type: OutboundType;
  /** Id of the inbound message this answers. */
  replyTo: string;
  source: string;
  sessionId?: string;
  agentId?: string;
  /** Reply text, error text, or a short notice. */
  content: string;
  /** For `queued`: 1-based place in the agent's queue. */
  position?: number;
  /** True when a slash command produced this (answered without the LLM). */
  command?: boolean;
  /** For `error`: the {@link BrineError} code, e.g. `llm_rate_limited`, `shutdown`. */
  code?: string;
  /** The inbound message's {@link InboundMessage.context}, for the adapter. */
  context?: Record<string, unknown>;
}

/** Creates an inbound message with a fresh id and the current time. */
export function inboundMessage(fields: { source: string; content: string } & Partial<InboundMessage>): InboundMessage {
  return { id: fields.id ?? `in-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`, receivedAt: new Date().toISOString(), ...fields };
}
