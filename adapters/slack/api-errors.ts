import { webApi } from '@slack/bolt';
import { PermanentDeliveryError } from '../../src/channels/types.js';

/**
 * Slack Web API `error` codes after which sending the same message again
 * cannot succeed: the channel is gone or closed to the bot, the token is
 * bad, or the request itself is wrong. Anything else (5xx, network, rate
 * limits past the client's own waiting) is worth a retry.
 */
const PERMANENT = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'missing_scope',
  'no_permission',
  'restricted_action',
  'msg_too_long',
  'no_text',
  'invalid_arguments',
]);

/** The Slack `error` code of a failed Web API call (`channel_not_found`...), if it is one. */
export function slackErrorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, data } = err as { code?: unknown; data?: { error?: unknown } };
  if (code !== webApi.ErrorCode.PlatformError) return undefined;
  return typeof data?.error === 'string' ? data.error : undefined;
}

/**
 * A failed send as the delivery worker wants it: a
 * {@link PermanentDeliveryError} when retrying cannot help, else the error
 * itself (retried later with backoff).
 */
export function deliveryError(err: unknown, channel: string): unknown {
  const code = slackErrorCode(err);
  if (code !== undefined && PERMANENT.has(code)) {
    return new PermanentDeliveryError(`Slack refused the message for ${channel}: ${code}${hint(code)}`, { cause: err });
  }
  return err;
}

function hint(code: string): string {
  if (code === 'not_in_channel') return ' (invite the bot to the channel)';
  if (code === 'missing_scope') return ' (add the chat:write scope and reinstall the app)';
  if (code === 'invalid_auth' || code === 'not_authed' || code === 'token_revoked') return ' (check SLACK_BOT_TOKEN)';
  return '';
}
