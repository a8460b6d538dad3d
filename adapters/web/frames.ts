/**
 * The JSON frames of the `/ws` WebSocket (DESIGN.md section 5): what a
 * client may send, how it is validated, and what the server sends back.
 */
import type { StatusReport } from '../../src/server/status.js';

/** Prefix of every web chat source. */
export const WS_SOURCE_PREFIX = 'platform-ws:';

/**
 * Allowed client ids: short, no whitespace or control characters. Sources end
 * up in logs, routing regexes and the session index, so odd bytes are refused.
 */
const CLIENT_ID = /^[\w.:@-]{1,128}$/;

/**
 * What a `status` frame carries: the per-agent and total figures of the
 * {@link StatusReport}. Its `sources` and `sessions` are left out: they name
 * other users' sources, and a client knowing a source could subscribe to it.
 */
export type PublicStatus = Pick<StatusReport, 'agents' | 'total'>;

/** The {@link PublicStatus} part of a report. */
export function publicStatus(report: StatusReport): PublicStatus {
  return { agents: report.agents, total: report.total };
}

/** A frame the server sends. `source`/`session_id` are null where they do not apply (status, a rejected frame). */
export interface ServerFrame {
  type: 'queued' | 'started' | 'reply' | 'error' | 'status';
  source: string | null;
  session_id: string | null;
  /** The text; for `status`, the {@link PublicStatus}. */
  content: string | PublicStatus;
  /** For `queued`: 1-based place in the agent's queue. */
  position?: number;
  /** The agent concerned, when known. */
  agent?: string;
  /** Id of the inbound message this frame is about, when known. */
  reply_to?: string;
}

/** A valid client frame: a chat message, or a hello that (re)subscribes to a source. */
export type ClientFrame =
  | { type: 'message'; source: string; content: string; agent?: string }
  | { type: 'hello'; source: string };

/** Result of {@link parseClientFrame}: the frame, or a message naming what is wrong. */
export type ParsedFrame = { ok: true; frame: ClientFrame } | { ok: false; error: string; source?: string };

/**
 * Validates one text frame from a client. `agents` are the known agent ids:
 * asking for another one is refused here, before anything is queued.
 */
export function parseClientFrame(raw: string, agents: readonly string[]): ParsedFrame {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { ok: false, error: 'The frame is not valid JSON; send {"source": "<client id>", "content": "<text>"}.' };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, error: 'The frame must be a JSON object: {"source": "<client id>", "content": "<text>"}.' };
  }
  const fields = data as Record<string, unknown>;
  const type = fields.type ?? 'message';
  if (type !== 'message' && type !== 'hello') {
    return { ok: false, error: `"type" must be "message" (the default) or "hello", not ${JSON.stringify(type)}.` };
  }
  const source = toSource(fields.source);
  if (typeof source !== 'string') return { ok: false, error: source.error };
  if (type === 'hello') return { ok: true, frame: { type: 'hello', source } };

  if (typeof fields.content !== 'string' || fields.content.trim() === '') {
    const what = fields.content === undefined ? 'is missing' : 'must be a non-empty string';
    return { ok: false, source, error: `"content" ${what}: send the message text as "content".` };
  }
  // null, "" and a missing agent all mean: routing decides.
  const agent = fields.agent;
  if (agent !== undefined && agent !== null && agent !== '') {
    if (typeof agent !== 'string') return { ok: false, source, error: '"agent" must be a string (an agent id) or left out to let routing decide.' };
    if (!agents.includes(agent)) return { ok: false, source, error: `"agent": there is no agent "${agent}"; agents: ${agents.join(', ')}.` };
    return { ok: true, frame: { type: 'message', source, content: fields.content, agent } };
  }
  return { ok: true, frame: { type: 'message', source, content: fields.content } };
}

/** `<id>` or `platform-ws:<id>` -> `platform-ws:<id>`, or why the field is unusable. */
function toSource(value: unknown): string | { error: string } {
  if (typeof value !== 'string') {
    const what = value === undefined ? 'is missing' : 'must be a string';
    return { error: `"source" ${what}: send your client id, e.g. "source": "alice-laptop".` };
  }
  const id = value.startsWith(WS_SOURCE_PREFIX) ? value.slice(WS_SOURCE_PREFIX.length) : value;
  if (!CLIENT_ID.test(id)) {
    return { error: '"source" must be 1-128 letters, digits or . _ : @ - (no spaces), e.g. "alice-laptop".' };
  }
  return WS_SOURCE_PREFIX + id;
}
