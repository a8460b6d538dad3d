/**
 * Reads {@link DiscordMessageFields} from what Discord gives: a discord.js
 * `Message` (the running adapter) or a raw gateway `MESSAGE_CREATE` payload
 * (recorded fixtures, the fake). Pure: reads properties, nothing else.
 */
import { MessageType, type Message } from 'discord.js';
import type { DiscordMessageFields } from './normalize.js';

/** Message types a person writes; everything else (joins, pins, boosts...) is a system message. */
const PERSON_TYPES: ReadonlySet<number> = new Set([MessageType.Default, MessageType.Reply]);

/** The fields of a discord.js message. */
export function fieldsFromMessage(message: Message): DiscordMessageFields {
  const channel = message.channel;
  const name = message.author.globalName ?? message.author.username;
  return {
    id: message.id,
    author: { id: message.author.id, bot: message.author.bot, ...(name && { name }) },
    channelId: message.channelId,
    guildId: message.guildId ?? null,
    parentChannelId: channel.isThread() ? channel.parentId : null,
    content: message.content,
    mentionedUserIds: [...message.mentions.users.keys()],
    webhookId: message.webhookId ?? null,
    system: message.system || !PERSON_TYPES.has(message.type),
  };
}

/** The subset of a gateway `MESSAGE_CREATE` payload (`d`) read here. */
export interface MessagePayload {
  id: string;
  type?: number;
  channel_id: string;
  guild_id?: string;
  content: string;
  author: { id: string; bot?: boolean; username?: string; global_name?: string | null };
  mentions?: { id: string }[];
  webhook_id?: string;
}

/**
 * The fields of a raw gateway payload. The gateway does not say which
 * channel a thread hangs off; pass `parentChannelId` when it is known.
 */
export function fieldsFromPayload(payload: MessagePayload, options: { parentChannelId?: string | null } = {}): DiscordMessageFields {
  const name = payload.author.global_name ?? payload.author.username;
  return {
    id: payload.id,
    author: { id: payload.author.id, bot: payload.author.bot === true, ...(name && { name }) },
    channelId: payload.channel_id,
    guildId: payload.guild_id ?? null,
    parentChannelId: options.parentChannelId ?? null,
    content: payload.content,
    mentionedUserIds: (payload.mentions ?? []).map((user) => user.id),
    webhookId: payload.webhook_id ?? null,
    system: payload.type !== undefined && !PERSON_TYPES.has(payload.type),
  };
}
