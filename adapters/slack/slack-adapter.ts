import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, HTTPReceiver, SocketModeReceiver, webApi } from '@slack/bolt';
import type { BrineConfig } from '../../src/config/schema.js';
import type { ChannelAdapter, Delivery, InboundSink } from '../../src/channels/types.js';
import { PermanentDeliveryError } from '../../src/channels/types.js';
import type { OutboundEvent } from '../../src/events.js';
import type { Logger } from '../../src/logger.js';
import { BrineError, describeError } from '../../src/errors.js';
import { boltLogger } from './bolt-logger.js';
import { deliveryError, slackErrorCode } from './api-errors.js';
import { formatSlackReply } from './format.js';
import { Hourglass, messageRefOf } from './hourglass.js';
import { classifySlackEvent, type IgnoreReason, type SlackMessageEvent } from './normalize.js';
import { RecentIds } from './recent-ids.js';
import { parseSlackSource, SLACK_SOURCE_PREFIX } from './source.js';

/** How Brine runs its Slack app: secrets from the environment, the rest from `channels.slack`. */
export interface SlackChannelOptions {
  /** `SLACK_BOT_TOKEN`: the Bot User OAuth Token (xoxb-...). */
  botToken: string;
  /** `channels.slack.mode`: Socket Mode (no public URL needed) or the HTTP Events API. */
  mode: 'socket' | 'http';
  /** `SLACK_APP_TOKEN`: app-level token (xapp-...) with `connections:write`; socket mode. */
  appToken?: string;
  /** `SLACK_SIGNING_SECRET`: verifies that HTTP requests come from Slack; http mode. */
  signingSecret?: string;
  /** `channels.slack.port`: where http mode listens for `/slack/events` (0 = any free port, for tests). */
  port: number;
  /** Interface http mode listens on (default: all, as Slack must reach it; tests use 127.0.0.1). */
  host?: string;
  /** `SLACK_API_URL ?? channels.slack.api_url`: the Web API base, e.g. `http://127.0.0.1:PORT/api/`; null = Slack's. */
  apiUrl: string | null;
  /** The live `channels.slack` settings, read again for every event (allowlists reload without a restart). */
  settings: () => BrineConfig['channels']['slack'];
  /** Told what became of every event (for metrics and tests); must not throw. */
  observer?: (outcome: SlackInboundOutcome) => void;
}

/** What the adapter did with one `app_mention` / `message` event. */
export interface SlackInboundOutcome {
  /** `accepted`: handed to the server; `duplicate`: already seen (a retry or the other copy of a mention); `ignored`: not for Brine; `failed`: the server refused it (shutting down). */
  outcome: 'accepted' | 'duplicate' | 'ignored' | 'failed';
  eventType: string;
  /** The envelope's `event_id`. */
  eventId?: string;
  /** Slack's retry number (`X-Slack-Retry-Num` / `retry_attempt`), when it is a retry. */
  retryNum?: number;
  /** The inbound message id (`slack:<channel>:<ts>`), unless ignored. */
  messageId?: string;
  /** Why it was ignored. */
  reason?: IgnoreReason;
}

/** The Slack channel: a {@link ChannelAdapter} for `platform-slack:` sources. */
export interface SlackChannel extends ChannelAdapter {
  /** http mode, once started: where Slack must POST, e.g. `http://127.0.0.1:3000/slack/events`. */
  readonly url?: string;
}

/** The path Slack posts Events API requests to (the app's Request URL ends with it). */
export const SLACK_EVENTS_PATH = '/slack/events';

/** Web API calls give up after this long (a hung call would hold the delivery of its thread). */
const API_TIMEOUT_MS = 30_000;
/**
 * Brine's own calls retry briefly (a 429 waits out its Retry-After inside
 * the client); past that the delivery worker's backoff takes over, with the
 * progress persisted, instead of the client's default half-hour of retries.
 */
const API_RETRY = { retries: 2, factor: 2, minTimeout: 250, maxTimeout: 2_000 };
/** How long start() waits for Socket Mode's `hello`. */
const CONNECT_TIMEOUT_MS = 30_000;
/** How long stop() waits for the connection to close. */
const STOP_TIMEOUT_MS = 3_000;

/**
 * Creates the Slack channel (DESIGN.md sections 2 and 3; setup in
 * docs/slack.md). Nothing connects until {@link ChannelAdapter.start}.
 * Throws a {@link BrineError} naming the environment variable when a secret
 * the chosen mode needs is missing.
 */
export function createSlackChannel(options: SlackChannelOptions): SlackChannel {
  checkSecrets(options);
  return new BoltSlackChannel(options);
}

function checkSecrets(options: SlackChannelOptions): void {
  const missing = (name: string, what: string) =>
    new BrineError('missing_secret', `Slack is enabled (mode ${options.mode}) but ${name} is not set: ${what}. Set it in the environment or .env (see docs/slack.md).`, { context: { env: name } });
  if (!options.botToken) throw missing('SLACK_BOT_TOKEN', "the app's Bot User OAuth Token (xoxb-...)");
  if (options.mode === 'socket' && !options.appToken) throw missing('SLACK_APP_TOKEN', 'an app-level token (xapp-...) with connections:write, for Socket Mode (or use channels.slack.mode: http)');
  if (options.mode === 'http' && !options.signingSecret) throw missing('SLACK_SIGNING_SECRET', "the app's Signing Secret, to verify Events API requests (or use channels.slack.mode: socket)");
}

/**
 * One Bolt App: its receiver (Socket Mode or HTTP) brings `app_mention` and
 * `message` events, which are normalized and handed to the server's sink; its
 * Web API client posts replies in the thread and the ⏳ reaction. Bolt acks
 * each event before any listener runs, and the listener only persists the
 * message, so Slack's 3-second deadline is never at risk; the LLM work runs
 * later, off the server's bus.
 */
class BoltSlackChannel implements SlackChannel {
  readonly name = 'slack';
  readonly #options: SlackChannelOptions;
  readonly #recent = new RecentIds();
  readonly #hourglass: Hourglass;
  #app: App | null = null;
  #logger: Logger | null = null;
  #botUserId = '';
  #httpServer: Server | null = null;
  #socket: SocketModeReceiver | null = null;
  #url: string | undefined;

  constructor(options: SlackChannelOptions) {
    this.#options = options;
    this.#hourglass = new Hourglass(
      () => this.#app?.client.reactions ?? null,
      () => this.#logger,
    );
  }

  get url(): string | undefined {
    return this.#url;
  }

  owns(source: string): boolean {
    return source.startsWith(SLACK_SOURCE_PREFIX);
  }

  format(text: string, kind: 'reply' | 'error'): string[] {
    return formatSlackReply(text, kind);
  }

  async start(sink: InboundSink, logger: Logger): Promise<void> {
    if (this.#app) throw new BrineError('already_started', 'The Slack channel is already started.');
    this.#logger = logger;
    const log = boltLogger(logger);
    const identity = await this.#whoAmI(log);
    this.#botUserId = identity.userId;

    const { mode } = this.#options;
    const receiver = mode === 'http' ? this.#httpReceiver(log) : this.#socketReceiver(log);
    const app = new App({
      token: this.#options.botToken,
      // Known already (auth.test above), so Bolt makes no call of its own here.
      botId: identity.botId,
      botUserId: identity.userId,
      receiver,
      logger: log,
      clientOptions: this.#clientOptions(log, API_RETRY),
      convoStore: false,
    });
    const onEvent = async (args: { event: object; body: { event_id?: string }; context: { retryNum?: number } }) =>
      this.#onEvent(sink, args.event as SlackMessageEvent, args.body.event_id, args.context.retryNum);
    app.event('app_mention', onEvent);
    app.event('message', onEvent);
    // Bolt's default rethrows, which only produces a second, vaguer log line.
    app.error(async (err) => void logger.warn({ err: describeError(err) }, 'Slack event handling failed'));

    try {
      if (mode === 'http') await this.#listen(app);
      else await this.#connect(app);
    } catch (err) {
      await this.#teardown(app);
      throw err;
    }
    this.#app = app;
    logger.info({ mode, team: identity.team, bot: identity.user, botUserId: identity.userId, ...(this.#url && { url: this.#url }) }, 'connected to Slack');
  }

  async stop(): Promise<void> {
    const app = this.#app;
    this.#app = null;
    if (app) await this.#teardown(app);
  }

  async send(delivery: Delivery, index: number): Promise<void> {
    const text = delivery.chunks[index];
    if (text === undefined) throw new PermanentDeliveryError(`delivery ${delivery.id} has no part ${index}`);
    const target = parseSlackSource(delivery.source);
    if (!target) throw new PermanentDeliveryError(`not a Slack source: ${delivery.source} (expected platform-slack:<user>:<channel>:<thread_ts>)`);
    const app = this.#app;
    // Not connected (yet, or any more): the delivery worker retries later.
    if (!app) throw new Error('the Slack channel is not connected');
    // A turn that waited and then never ran (queue timeout, busy) is answered
    // without a `started`: its hourglass goes with the answer.
    const asked = messageRefOf(delivery.context);
    if (index === 0 && asked) await this.#hourglass.clear(asked);
    try {
      await app.client.chat.postMessage({
        channel: target.channel,
        text,
        // Always in the thread of the message that asked (a source without one posts at the top level).
        ...(target.threadTs !== undefined && { thread_ts: target.threadTs }),
        unfurl_links: false,
        unfurl_media: false,
      });
    } catch (err) {
      throw deliveryError(err, target.channel);
    }
  }

  async notify(event: OutboundEvent): Promise<void> {
    const message = messageRefOf(event.context);
    if (!message) return;
    if (event.type === 'queued') await this.#hourglass.show(message);
    else if (event.type === 'started') await this.#hourglass.clear(message);
  }

  /** One event from Bolt (already acked): normalize, dedupe, hand to the server. */
  async #onEvent(sink: InboundSink, event: SlackMessageEvent, eventId: string | undefined, retryNum: number | undefined): Promise<void> {
    const logger = this.#logger;
    const base = { eventType: event.type, ...(eventId !== undefined && { eventId }), ...(retryNum !== undefined && { retryNum }) };
    const result = classifySlackEvent(event, this.#botUserId, this.#options.settings());
    if (!result.ok) {
      const refused = result.reason === 'user_not_allowed' || result.reason === 'channel_not_allowed';
      logger?.[refused ? 'info' : 'debug']({ ...base, reason: result.reason, detail: result.detail }, 'Slack event ignored');
      return this.#observe({ ...base, outcome: 'ignored', reason: result.reason });
    }
    const { message } = result;
    // The app_mention and message copies of a mention, and retries, arrive close together.
    if (!this.#recent.add(message.id)) {
      logger?.debug({ ...base, id: message.id }, 'Slack event already handled');
      return this.#observe({ ...base, outcome: 'duplicate', messageId: message.id });
    }
    try {
      const fresh = await sink.accept(message);
      this.#observe({ ...base, outcome: fresh ? 'accepted' : 'duplicate', messageId: message.id });
    } catch (err) {
      // Not taken (shutting down, disk error): let a later copy try again.
      this.#recent.delete(message.id);
      logger?.warn({ ...base, id: message.id, err: describeError(err) }, 'a Slack message was not accepted');
      this.#observe({ ...base, outcome: 'failed', messageId: message.id });
    }
  }

  #observe(outcome: SlackInboundOutcome): void {
    try {
      this.#options.observer?.(outcome);
    } catch (err) {
      this.#logger?.debug({ err: describeError(err) }, 'Slack observer failed');
    }
  }

  /**
   * `auth.test` with the bot token: proves token and endpoint before anything
   * listens, and gives the bot's user id (to strip its mention and skip its
   * own messages) without Bolt's constructor making the call itself.
   */
  async #whoAmI(log: ReturnType<typeof boltLogger>): Promise<{ userId: string; botId: string; team?: string; user?: string }> {
    const client = new webApi.WebClient(this.#options.botToken, this.#clientOptions(log, API_RETRY));
    let result: webApi.AuthTestResponse;
    try {
      result = await client.auth.test();
    } catch (err) {
      const code = slackErrorCode(err);
      throw new BrineError(
        'slack_auth_failed',
        code
          ? `Slack refused SLACK_BOT_TOKEN (${code}): use the Bot User OAuth Token (xoxb-...) from the app's OAuth & Permissions page, and install the app to the workspace.`
          : `Could not reach the Slack Web API at ${this.#options.apiUrl ?? 'https://slack.com/api/'}: ${describeError(err)}`,
        { cause: err },
      );
    }
    if (!result.user_id || !result.bot_id) {
      throw new BrineError('slack_auth_failed', 'SLACK_BOT_TOKEN is not a bot token (auth.test returned no bot user): use the Bot User OAuth Token (xoxb-...).');
    }
    return { userId: result.user_id, botId: result.bot_id, ...(result.team && { team: result.team }), ...(result.user && { user: result.user }) };
  }

  /** Web API client options; a fresh object each time, as Bolt and the Socket Mode client write into theirs. */
  #clientOptions(log: ReturnType<typeof boltLogger>, retry?: typeof API_RETRY): webApi.WebClientOptions {
    const { apiUrl } = this.#options;
    return { ...(apiUrl && { slackApiUrl: apiUrl }), logger: log, timeout: API_TIMEOUT_MS, ...(retry && { retryConfig: { ...retry } }) };
  }

  #httpReceiver(log: ReturnType<typeof boltLogger>): HTTPReceiver {
    // Bolt checks the v0 signature and the timestamp (5 minutes) of every request, and answers url_verification.
    return new HTTPReceiver({ signingSecret: this.#options.signingSecret ?? '', endpoints: SLACK_EVENTS_PATH, port: this.#options.port, logger: log });
  }

  #socketReceiver(log: ReturnType<typeof boltLogger>): SocketModeReceiver {
    // Passing installerOptions.clientOptions replaces what Bolt would copy
    // from the App, so the API URL goes in here too (apps.connections.open
    // must reach the same Slack). No retryConfig: the Socket Mode client's
    // own long retries are what carries it through reconnections.
    const receiver = new SocketModeReceiver({ appToken: this.#options.appToken ?? '', logger: log, installerOptions: { clientOptions: this.#clientOptions(log) } });
    this.#socket = receiver;
    return receiver;
  }

  async #listen(app: App): Promise<void> {
    const { port, host } = this.#options;
    let server: Server;
    try {
      server = (await app.start(host === undefined ? port : { port, host })) as Server;
    } catch (err) {
      const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? '; another program uses it: set channels.slack.port in config.user.yaml' : '';
      throw new BrineError('slack_listen_failed', `Slack http mode cannot listen on port ${port} (${describeError(err)})${inUse}.`, { cause: err });
    }
    this.#httpServer = server;
    const address = server.address() as AddressInfo;
    const shown = host === undefined || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    this.#url = `http://${shown.includes(':') ? `[${shown}]` : shown}:${address.port}${SLACK_EVENTS_PATH}`;
  }

  async #connect(app: App): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no hello from Slack within ${CONNECT_TIMEOUT_MS / 1000} s`)), CONNECT_TIMEOUT_MS);
    });
    try {
      await Promise.race([app.start(), timeout]);
    } catch (err) {
      const code = slackErrorCode(err);
      throw new BrineError(
        'slack_connect_failed',
        `Could not open the Slack Socket Mode connection (${code ?? describeError(err)}): check SLACK_APP_TOKEN (an app-level token, xapp-..., with connections:write) and that Socket Mode is enabled in the app's settings.`,
        { cause: err },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the receiver (closing the port or the socket), tolerating a half-started one. */
  async #teardown(app: App): Promise<void> {
    const socket = this.#socket?.client;
    const server = this.#httpServer;
    this.#socket = null;
    this.#httpServer = null;
    this.#url = undefined;
    const closed = socket ? new Promise<void>((resolve) => socket.once('disconnected', () => resolve())) : Promise.resolve();
    try {
      const stopping = app.stop();
      // Keep-alive connections would hold the port open until they time out.
      server?.closeIdleConnections();
      await Promise.race([stopping, delay(STOP_TIMEOUT_MS)]);
    } catch (err) {
      this.#logger?.debug({ err: describeError(err) }, 'Slack receiver stop failed');
    }
    server?.closeAllConnections();
    await Promise.race([closed, delay(STOP_TIMEOUT_MS)]);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
