import { BrineError } from '../src/errors.js';
import type { ChannelAdapter } from '../src/channels/types.js';
import type { BrineServer } from '../src/server/brine-server.js';
import type { Logger } from '../src/logger.js';

/** Trimmed env value, or undefined when unset or empty (`.env.example` lists names with empty values). */
function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  return env[name]?.trim() || undefined;
}

/**
 * The chat platforms enabled by config and environment (DESIGN.md section
 * 2): `channels.<platform>.enabled: true` plus its secrets. A platform that
 * is enabled but misses a secret is reported (one log line naming the
 * variable) and left out; the rest of Brine runs. Endpoint overrides: the
 * env var wins over the config key. A platform's SDK is imported only when it
 * is enabled, so other commands and platforms don't pay for loading it.
 */
export async function platformChannels(server: BrineServer, env: NodeJS.ProcessEnv, logger: Logger): Promise<ChannelAdapter[]> {
  const channels: ChannelAdapter[] = [];
  const config = server.runtime.snapshot().config.channels;
  const settings = () => server.runtime.snapshot().config.channels;
  const skip = (err: BrineError) => logger.error({ code: err.code }, err.message);

  if (config.discord.enabled) {
    const token = envValue(env, 'DISCORD_BOT_TOKEN');
    if (!token) skip(new BrineError('missing_secret', 'channels.discord.enabled is true but DISCORD_BOT_TOKEN is not set (in the environment or .env); Discord stays off.'));
    else {
      const { createDiscordChannel } = await import('./discord/index.js');
      channels.push(createDiscordChannel({ token, apiUrl: envValue(env, 'DISCORD_API_URL') ?? config.discord.api_url, settings: () => settings().discord }));
    }
  }

  if (config.slack.enabled) {
    const botToken = envValue(env, 'SLACK_BOT_TOKEN');
    const { mode } = config.slack;
    const appToken = envValue(env, 'SLACK_APP_TOKEN');
    const signingSecret = envValue(env, 'SLACK_SIGNING_SECRET');
    const missing = !botToken ? 'SLACK_BOT_TOKEN' : mode === 'socket' && !appToken ? 'SLACK_APP_TOKEN' : mode === 'http' && !signingSecret ? 'SLACK_SIGNING_SECRET' : null;
    if (missing || !botToken) {
      skip(new BrineError('missing_secret', `channels.slack.enabled is true (mode ${mode}) but ${missing} is not set (in the environment or .env); Slack stays off.`));
    } else {
      const { createSlackChannel } = await import('./slack/index.js');
      channels.push(
        createSlackChannel({
          botToken,
          mode,
          ...(appToken && { appToken }),
          ...(signingSecret && { signingSecret }),
          port: config.slack.port,
          apiUrl: envValue(env, 'SLACK_API_URL') ?? config.slack.api_url,
          settings: () => settings().slack,
        }),
      );
    }
  }
  return channels;
}
