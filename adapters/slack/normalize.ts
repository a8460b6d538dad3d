/**
 * Slack event -> Brine inbound event. Pure: no client, no clock unless
 * given, no I/O. Decides which Slack events Brine answers at all (DESIGN.md
 * section 3): `app_mention` in channels and `message` in DMs; never a bot
 * (itself included) and never an edit, deletion, join or other subtype;
 * never a user or channel outside the allowlists, so those cost no LLM call
 * and no tool run.
 */
import type { InboundMessage } from '../../src/events.js';
import type { BrineConfig } from '../../src/config/schema.js';
import { slackMessageId, slackSource } from './source.js';
import { slackToPlainText } from './text.js';

/** The `channels.slack` settings normalize reads (allowlists, mention rule). */
export type SlackSettings = Pick<BrineConfig['channels']['slack'], 'require_mention' | 'allowed_user_ids' | 'allowed_channel_ids'>;

/**
 * The fields of an Events API `app_mention` or `message` event that matter
 * here (the `event` object of an `event_callback`, over HTTP or Socket Mode).
 * Loosely typed on purpose: Slack adds fields freely.
 */
export interface SlackMessageEvent {
  type: string;
  subtype?: string;
  /** Author; absent on some subtypes (message_changed, bot_message). */
  user?: string;
  /** Present on anything a bot or app posted (this bot's replies included). */
  bot_id?: string;
  text?: string;
  channel?: string;
  /** `im` for a DM, `channel` / `group` / `mpim` otherwise (only on `message` events). */
  channel_type?: string;
  ts?: string;
  /** Set when the message is in a thread: the ts of the thread's parent. */
  thread_ts?: string;
  [key: string]: unknown;
}

/** What the adapter needs to answer in place, kept in {@link InboundMessage.context}. */
export interface SlackMessageContext {
  channel: string;
  /** The message itself (the hourglass reaction goes on it). */
  ts: string;
  /** The thread the reply goes in: `thread_ts ?? ts`. */
  threadTs: string;
  [key: string]: unknown;
}

/** Why an event is not answered (for logs). */
export type IgnoreReason =
  | 'unsupported_event'
  | 'subtype'
  | 'bot_message'
  | 'own_message'
  | 'incomplete'
  | 'no_mention'
  | 'empty'
  | 'user_not_allowed'
  | 'channel_not_allowed';

/** Outcome of {@link classifySlackEvent}. */
export type Classified = { ok: true; message: InboundMessage } | { ok: false; reason: IgnoreReason; detail?: string };

/**
 * Normalizes a Slack event into Brine's inbound event, or returns null when
 * Brine must not answer it (see {@link classifySlackEvent} for why).
 */
export function normalizeSlackEvent(event: SlackMessageEvent, botUserId: string, settings: SlackSettings, now: Date = new Date()): InboundMessage | null {
  const result = classifySlackEvent(event, botUserId, settings, now);
  return result.ok ? result.message : null;
}

/**
 * Like {@link normalizeSlackEvent}, but says why an event is ignored. The
 * event: id `slack:<channel>:<ts>` (the same for the `app_mention` and the
 * `message` copy of one mention, and for retries), source
 * `platform-slack:<user>:<channel>:<thread_ts ?? ts>`, the bot mention
 * stripped and Slack markup made plain, and `context` {@link SlackMessageContext}.
 */
export function classifySlackEvent(event: SlackMessageEvent, botUserId: string, settings: SlackSettings, now: Date = new Date()): Classified {
  if (event.type !== 'app_mention' && event.type !== 'message') return { ok: false, reason: 'unsupported_event', detail: event.type };
  // Edits, deletions, joins, bot_message, file shares...: not a person talking to the bot.
  if (event.subtype !== undefined) return { ok: false, reason: 'subtype', detail: event.subtype };
  if (event.user !== undefined && event.user === botUserId) return { ok: false, reason: 'own_message' };
  // Bots answering bots can loop forever; the bot's own posts carry bot_id too.
  if (event.bot_id !== undefined) return { ok: false, reason: 'bot_message', detail: event.bot_id };
  const { user, channel, ts } = event;
  if (!user || !channel || !ts) return { ok: false, reason: 'incomplete' };

  // In channels only mentions count: a mention arrives as `app_mention` (and,
  // with message.channels subscribed, also as `message`, which the shared id
  // dedupes). Only with require_mention: false does a plain channel message count.
  const isDm = event.type === 'message' && event.channel_type === 'im';
  if (event.type === 'message' && !isDm && settings.require_mention !== false) return { ok: false, reason: 'no_mention' };

  // Allowlists before anything else costs: empty means everyone.
  if (settings.allowed_user_ids.length > 0 && !settings.allowed_user_ids.includes(user)) return { ok: false, reason: 'user_not_allowed', detail: user };
  if (settings.allowed_channel_ids.length > 0 && !settings.allowed_channel_ids.includes(channel)) return { ok: false, reason: 'channel_not_allowed', detail: channel };

  const content = slackToPlainText(stripBotMention(event.text ?? '', botUserId));
  if (content === '') return { ok: false, reason: 'empty' };

  const threadTs = event.thread_ts ?? ts;
  const context: SlackMessageContext = { channel, ts, threadTs };
  return {
    ok: true,
    message: {
      id: slackMessageId(channel, ts),
      source: slackSource(user, channel, threadTs),
      content,
      receivedAt: now.toISOString(),
      author: { id: user },
      context,
    },
  };
}

/**
 * Removes every `<@BOT>` / `<@BOT|name>` mention of the bot, then the
 * separators a person types after it ("@Brine, hi" -> "hi"). Other
 * whitespace (code indentation) stays as typed.
 */
export function stripBotMention(text: string, botUserId: string): string {
  const id = botUserId.replace(/[^\w]/g, '\\$&');
  return text
    .replace(new RegExp(`<@${id}(?:\\|[^>]*)?>[ \\t]*`, 'g'), '')
    .trim()
    .replace(/^[,:;]\s*/, '')
    .trim();
}
