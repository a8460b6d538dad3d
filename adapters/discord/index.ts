/**
 * The Discord channel of Brine (discord.js 14). Setup guide: docs/discord.md.
 * @module
 */
export { createDiscordChannel, QUEUED_REACTION, type DiscordChannelOptions } from './discord-adapter.js';
export {
  normalizeDiscordMessage,
  classifyDiscordMessage,
  discordSource,
  discordEventId,
  channelIdOfSource,
  stripBotMention,
  DISCORD_SOURCE_PREFIX,
  type DiscordMessageFields,
  type DiscordSettings,
  type IgnoreReason,
  type Classified,
} from './normalize.js';
export { fieldsFromMessage, fieldsFromPayload, type MessagePayload } from './message-fields.js';
export { formatDiscordReply, splitMessage, characterBoundary, DISCORD_MESSAGE_LIMIT, ERROR_PREFIX, EMPTY_REPLY } from './format.js';
export { gatewayFailure, isFatalCloseCode, isFatalGatewayError, isPermanentSendError } from './errors.js';
export { RecentIds } from './recent-ids.js';
export { TypingIndicators, DEFAULT_TYPING, type TypingTiming } from './typing.js';
