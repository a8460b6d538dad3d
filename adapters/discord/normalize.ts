/**
 * Discord message -> Brine inbound event. Pure: no client, no clock unless
 * given, no I/O. Decides which messages Brine answers at all (DESIGN.md
 * section 3): DMs, and in servers only mentions (when `require_mention`);
 * never a bot (itself included); never a user or channel outside the
 * allowlists, so those cost no LLM call and no tool run.
 */
import type { InboundMessage } from '../../src/events.js';
import type { BrineConfig } from '../../src/config/schema.js';

/** The `channels.discord` settings normalize reads (allowlists, mention rule). */
export type DiscordSettings = Pick<BrineConfig['channels']['discord'], 'require_mention' | 'allowed_user_ids' | 'allowed_channel_ids'>;

/** Prefix of every Discord source string: `platform-discord:<user_id>:<channel_id>`. */
export const DISCORD_SOURCE_PREFIX = 'platform-discord:';

/**
 * The few facts of a Discord message that decide whether and how it is
 * answered. Made from a discord.js `Message` ({@link fieldsFromMessage} in
 * message-fields.ts) or from a raw gateway payload ({@link fieldsFromPayload}).
 */
export interface DiscordMessageFields {
  /** Message snowflake. */
  id: string;
  author: {
    id: string;
    /** True for bot accounts, the bot itself included. */
    bot: boolean;
    /** Display name for logs and prompts (global name, else username). */
    name?: string;
  };
  /** Where it was posted; a thread is its own channel. */
  channelId: string;
  /** Null in DMs. */
  guildId: string | null;
  /** For a thread: the channel it hangs off (so an allowlisted channel covers its threads). */
  parentChannelId?: string | null;
  content: string;
  /** Ids of the users the message mentions (a reply to the bot mentions it too). */
  mentionedUserIds: readonly string[];
  /** Sent by a webhook (never answered: it is not a person). */
  webhookId?: string | null;
  /** A system message (member joined, pin added...), never answered. */
  system?: boolean;
}

/** Why a message is not answered (for debug logs). */
export type IgnoreReason = 'own_message' | 'bot_or_webhook' | 'system_message' | 'no_mention' | 'empty' | 'user_not_allowed' | 'channel_not_allowed';

/** Outcome of {@link classifyDiscordMessage}. */
export type Classified = { ok: true; message: InboundMessage } | { ok: false; reason: IgnoreReason };

/**
 * Normalizes a Discord message into Brine's inbound event, or returns null
 * when Brine must not answer it (see {@link classifyDiscordMessage} for why).
 */
export function normalizeDiscordMessage(fields: DiscordMessageFields, botUserId: string, settings: DiscordSettings, now: Date = new Date()): InboundMessage | null {
  const result = classifyDiscordMessage(fields, botUserId, settings, now);
  return result.ok ? result.message : null;
}

/**
 * Like {@link normalizeDiscordMessage}, but says why a message is ignored.
 * The event: id `discord:<message id>` (the journal dedupes replays by it),
 * source `platform-discord:<user>:<channel>`, the bot mention stripped, and
 * `context` { channelId, messageId, guildId? } for answering in place.
 */
export function classifyDiscordMessage(fields: DiscordMessageFields, botUserId: string, settings: DiscordSettings, now: Date = new Date()): Classified {
  if (fields.author.id === botUserId) return { ok: false, reason: 'own_message' };
  // Bots answering bots can loop forever; webhooks are not people either.
  if (fields.author.bot || fields.webhookId) return { ok: false, reason: 'bot_or_webhook' };
  if (fields.system) return { ok: false, reason: 'system_message' };

  const isDm = fields.guildId === null;
  const mentioned = fields.mentionedUserIds.includes(botUserId) || mentionPattern(botUserId).test(fields.content);
  if (!isDm && settings.require_mention && !mentioned) return { ok: false, reason: 'no_mention' };

  // Allowlists before anything else costs: empty means everyone.
  if (settings.allowed_user_ids.length > 0 && !settings.allowed_user_ids.includes(fields.author.id)) return { ok: false, reason: 'user_not_allowed' };
  if (settings.allowed_channel_ids.length > 0 && !channelAllowed(fields, settings.allowed_channel_ids)) return { ok: false, reason: 'channel_not_allowed' };

  const content = stripBotMention(fields.content, botUserId);
  if (content === '') return { ok: false, reason: 'empty' };

  return {
    ok: true,
    message: {
      id: discordEventId(fields.id),
      source: discordSource(fields.author.id, fields.channelId),
      content,
      receivedAt: now.toISOString(),
      author: { id: fields.author.id, ...(fields.author.name && { name: fields.author.name }) },
      context: {
        channelId: fields.channelId,
        messageId: fields.id,
        ...(fields.guildId !== null && { guildId: fields.guildId }),
      },
    },
  };
}

/** `platform-discord:<user_id>:<channel_id>`. */
export function discordSource(userId: string, channelId: string): string {
  return `${DISCORD_SOURCE_PREFIX}${userId}:${channelId}`;
}

/** The inbound event id of a Discord message: `discord:<message id>`. */
export function discordEventId(messageId: string): string {
  return `discord:${messageId}`;
}

/** The channel a source's replies go to: its last segment (null if the source is not a Discord one). */
export function channelIdOfSource(source: string): string | null {
  if (!source.startsWith(DISCORD_SOURCE_PREFIX)) return null;
  const channelId = source.slice(source.lastIndexOf(':') + 1);
  return /^\d+$/.test(channelId) ? channelId : null;
}

/**
 * Removes every `<@id>` / `<@!id>` mention of the bot, then the separators a
 * person types after it ("@Brine, hi" -> "hi").
 */
export function stripBotMention(content: string, botUserId: string): string {
  // The mention and the spaces after it go; other whitespace (code indentation) stays as typed.
  return content
    .replace(mentionPattern(botUserId, '[ \\t]*', 'g'), '')
    .trim()
    .replace(/^[,:;]\s*/, '')
    .trim();
}

/** `<@id>` or `<@!id>` (the old nickname form), then `tail`. */
function mentionPattern(botUserId: string, tail = '', flags = ''): RegExp {
  return new RegExp(`<@!?${botUserId.replace(/[^\w]/g, '\\$&')}>${tail}`, flags);
}

/** A thread is allowed through its own id or its parent's. */
function channelAllowed(fields: DiscordMessageFields, allowed: readonly string[]): boolean {
  if (allowed.includes(fields.channelId)) return true;
  return fields.parentChannelId != null && allowed.includes(fields.parentChannelId);
}
