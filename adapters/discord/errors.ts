/**
 * What Discord failures mean for Brine: which gateway failures are fatal (and
 * what the operator must fix in the Developer Portal), and which send
 * failures no retry can fix.
 */
import { DiscordAPIError, DiscordjsErrorCodes, GatewayCloseCodes, RESTJSONErrorCodes } from 'discord.js';
import { BrineError, describeError } from '../../src/errors.js';

const PORTAL = 'https://discord.com/developers/applications';

/** The operator-facing text of each gateway close that must not be retried. */
const FATAL_CLOSES: ReadonlyMap<number, { code: string; message: string }> = new Map([
  [
    GatewayCloseCodes.AuthenticationFailed,
    {
      code: 'discord_token_invalid',
      message: `Discord rejected the bot token (authentication failed: HTTP 401 or gateway close 4004). In the Discord Developer Portal (${PORTAL}) open your application -> Bot -> Reset Token, put the new token in .env as DISCORD_BOT_TOKEN, and restart Brine.`,
    },
  ],
  [
    GatewayCloseCodes.DisallowedIntents,
    {
      code: 'discord_intent_disallowed',
      message: `Discord refused the Message Content intent (gateway close 4014, disallowed intents). In the Discord Developer Portal (${PORTAL}) open your application -> Bot -> Privileged Gateway Intents, turn on "Message Content Intent", save, and restart Brine.`,
    },
  ],
  [GatewayCloseCodes.InvalidIntents, { code: 'discord_intents_invalid', message: 'Discord rejected the gateway intents Brine asked for (gateway close 4013); this is a Brine bug, please report it.' }],
  [GatewayCloseCodes.InvalidShard, { code: 'discord_gateway_fatal', message: 'Discord closed the gateway: invalid shard (4010).' }],
  [GatewayCloseCodes.ShardingRequired, { code: 'discord_gateway_fatal', message: 'Discord closed the gateway: this bot is in too many servers for one connection and needs sharding (4011), which Brine does not do.' }],
  [GatewayCloseCodes.InvalidAPIVersion, { code: 'discord_gateway_fatal', message: 'Discord closed the gateway: invalid API version (4012); check DISCORD_API_URL / channels.discord.api_url.' }],
]);

/** True for a gateway close code after which discord.js does not reconnect. */
export function isFatalCloseCode(code: number): boolean {
  return FATAL_CLOSES.has(code);
}

/**
 * The error to report when the gateway closed for good with `closeCode`, or
 * login failed with `error` (discord.js surfaces a 401 on `GET /gateway/bot`
 * as `TokenInvalid`, a 4004 close as "Authentication failed", a 4014 close
 * as "Used disallowed intents"). Anything else is a plain login failure.
 */
export function gatewayFailure(input: { closeCode?: number | null; error?: unknown }): BrineError {
  const fatal = input.closeCode != null ? FATAL_CLOSES.get(input.closeCode) : undefined;
  const cause = input.error;
  const known = fatal ?? FATAL_CLOSES.get(closeCodeOfError(cause) ?? -1);
  if (known) return new BrineError(known.code, known.message, { cause, context: { channel: 'discord', closeCode: input.closeCode ?? null } });
  return new BrineError('discord_login_failed', `Could not connect to Discord: ${describeError(cause)}. Check the network, DISCORD_API_URL / channels.discord.api_url, and DISCORD_BOT_TOKEN.`, {
    cause,
    context: { channel: 'discord' },
  });
}

/** True for the error discord.js reports alongside a fatal close (it is reported through the close instead). */
export function isFatalGatewayError(err: unknown): boolean {
  return closeCodeOfError(err) !== null;
}

/** The close code a discord.js login error stands for, when it is one of the fatal ones. */
function closeCodeOfError(err: unknown): number | null {
  if (!(err instanceof Error)) return null;
  const code = (err as { code?: unknown }).code;
  if (code === DiscordjsErrorCodes.TokenInvalid || /authentication failed/i.test(err.message)) return GatewayCloseCodes.AuthenticationFailed;
  if (err instanceof DiscordAPIError && err.status === 401) return GatewayCloseCodes.AuthenticationFailed;
  if (code === DiscordjsErrorCodes.DisallowedIntents || /disallowed intents/i.test(err.message)) return GatewayCloseCodes.DisallowedIntents;
  if (/invalid intents/i.test(err.message)) return GatewayCloseCodes.InvalidIntents;
  return null;
}

/** Discord error codes after which sending the same message again cannot work. */
const PERMANENT_CODES: ReadonlySet<number> = new Set([
  RESTJSONErrorCodes.UnknownChannel,
  RESTJSONErrorCodes.MissingAccess,
  RESTJSONErrorCodes.MissingPermissions,
  RESTJSONErrorCodes.CannotSendMessagesToThisUser,
  RESTJSONErrorCodes.CannotSendAnEmptyMessage,
  RESTJSONErrorCodes.InvalidFormBodyOrContentType,
]);

/**
 * True when a send failure is for good: an unknown channel or no access
 * (404/403, 10003/50001/50013), a user who does not take DMs (50007), or a
 * request Discord will always refuse (400). Rate limits never get here
 * (discord.js waits them out) and 5xx or network errors are worth a retry.
 */
export function isPermanentSendError(err: unknown): boolean {
  if (!(err instanceof DiscordAPIError)) return false;
  if (typeof err.code === 'number' && PERMANENT_CODES.has(err.code)) return true;
  return err.status === 400 || err.status === 403 || err.status === 404;
}
