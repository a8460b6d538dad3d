/**
 * The Slack side of the Events API, for tests: event payloads shaped like
 * Slack's, and a driver that POSTs them to an app's Request URL (Bolt's
 * HTTPReceiver at `/slack/events`) signed the way Slack signs them:
 * `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<timestamp>:<raw body>"
 * with the signing secret>` and `X-Slack-Request-Timestamp: <unix seconds>`,
 * plus `X-Slack-Retry-Num` / `X-Slack-Retry-Reason` on a redelivery.
 *
 * @module
 */
import { createHmac, randomUUID } from 'node:crypto';

/** Workspace and app the payloads claim (they match the fake Slack's identity). */
export const TEAM_ID = 'T0FAKE';
export const API_APP_ID = 'A0FAKE';

/** The `v0=...` signature Slack sends for a raw body at `timestampSec`. */
export function signSlackRequest(signingSecret: string, timestampSec: number, rawBody: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestampSec}:${rawBody}`).digest('hex')}`;
}

let tsSeq = 0;
/** A fresh, increasing Slack message ts (`1700000000.000123`). */
export function nextTs(): string {
  tsSeq += 1;
  return `1700000000.${String(tsSeq).padStart(6, '0')}`;
}

/** An Events API `event_callback` body wrapping `event`. */
export function eventCallback(event: Record<string, unknown>, options: { eventId?: string; eventTime?: number; botUserId?: string } = {}): Record<string, unknown> {
  return {
    token: 'legacy-verification-token',
    team_id: TEAM_ID,
    context_team_id: TEAM_ID,
    context_enterprise_id: null,
    api_app_id: API_APP_ID,
    event,
    type: 'event_callback',
    event_id: options.eventId ?? `Ev${randomUUID().replace(/-/g, '').slice(0, 10).toUpperCase()}`,
    event_time: options.eventTime ?? 1700000000,
    authorizations: [{ enterprise_id: null, team_id: TEAM_ID, user_id: options.botUserId ?? 'UBOT', is_bot: true, is_enterprise_install: false }],
    is_ext_shared_channel: false,
    event_context: `4-${randomUUID()}`,
  };
}

/** Fields of a message-like event. */
export interface MessageFields {
  user: string;
  channel: string;
  text: string;
  ts?: string;
  thread_ts?: string;
}

/** An `app_mention` event (a channel message that mentions the bot). */
export function appMention(fields: MessageFields): Record<string, unknown> {
  const ts = fields.ts ?? nextTs();
  return {
    type: 'app_mention',
    client_msg_id: randomUUID(),
    text: fields.text,
    user: fields.user,
    ts,
    team: TEAM_ID,
    channel: fields.channel,
    event_ts: ts,
    ...(fields.thread_ts && { thread_ts: fields.thread_ts }),
  };
}

/** A `message` event: a DM (`channel_type: 'im'`) by default, or the `message.channels` copy of a channel message. */
export function messageEvent(fields: MessageFields & { channel_type?: string; subtype?: string; bot_id?: string }): Record<string, unknown> {
  const ts = fields.ts ?? nextTs();
  return {
    type: 'message',
    client_msg_id: randomUUID(),
    text: fields.text,
    user: fields.user,
    ts,
    team: TEAM_ID,
    channel: fields.channel,
    event_ts: ts,
    channel_type: fields.channel_type ?? 'im',
    ...(fields.thread_ts && { thread_ts: fields.thread_ts }),
    ...(fields.subtype && { subtype: fields.subtype }),
    ...(fields.bot_id && { bot_id: fields.bot_id }),
  };
}

/** A `message_changed` event: someone edited `ts` to `newText`. */
export function messageChanged(fields: { user: string; channel: string; ts: string; newText: string; channel_type?: string }): Record<string, unknown> {
  const eventTs = nextTs();
  return {
    type: 'message',
    subtype: 'message_changed',
    channel: fields.channel,
    channel_type: fields.channel_type ?? 'im',
    hidden: true,
    ts: eventTs,
    event_ts: eventTs,
    message: { type: 'message', user: fields.user, text: fields.newText, ts: fields.ts, edited: { user: fields.user, ts: eventTs } },
    previous_message: { type: 'message', user: fields.user, text: '(before)', ts: fields.ts },
  };
}

/** What a POST to the receiver got back. */
export interface DriverResponse {
  status: number;
  text: string;
}

/** Options of one {@link SlackEventsDriver.post}. */
export interface PostOptions {
  /** `X-Slack-Retry-Num` (a redelivery). */
  retryNum?: number;
  /** `X-Slack-Retry-Reason` (default `http_timeout` when retryNum is set). */
  retryReason?: string;
  /** Sign with this secret instead (a forged request). */
  secret?: string;
  /** Request timestamp, unix seconds (default now; older than 5 minutes is refused as a replay). */
  timestamp?: number;
  /** Send this signature as is. */
  signature?: string;
  /** Give up after this long, like Slack (default 3000 ms: Slack's deadline for the ack). */
  timeoutMs?: number;
}

/** POSTs signed Events API requests to an app's Request URL. */
export class SlackEventsDriver {
  /**
   * @param url the Request URL, e.g. `http://127.0.0.1:PORT/slack/events`
   * @param signingSecret the app's Signing Secret
   */
  constructor(
    readonly url: string,
    readonly signingSecret: string,
  ) {}

  /** POSTs `body` (an object is sent as JSON; a string as is) as Slack would. */
  async post(body: object | string, options: PostOptions = {}): Promise<DriverResponse> {
    const raw = typeof body === 'string' ? body : JSON.stringify(body);
    const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': options.signature ?? signSlackRequest(options.secret ?? this.signingSecret, timestamp, raw),
    };
    if (options.retryNum !== undefined) {
      headers['x-slack-retry-num'] = String(options.retryNum);
      headers['x-slack-retry-reason'] = options.retryReason ?? 'http_timeout';
    }
    const res = await fetch(this.url, { method: 'POST', headers, body: raw, signal: AbortSignal.timeout(options.timeoutMs ?? 3_000) });
    return { status: res.status, text: await res.text() };
  }

  /** The url_verification handshake Slack does when the Request URL is saved; resolves with the response. */
  verifyUrl(challenge: string): Promise<DriverResponse> {
    return this.post({ token: 'legacy-verification-token', challenge, type: 'url_verification' });
  }
}
