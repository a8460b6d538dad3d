/**
 * The Discord channel: owns the discord.js client's lifecycle and nothing
 * else. Deciding what to answer is normalize.ts, splitting replies is
 * format.ts, what failures mean is errors.ts; this file wires them to the
 * gateway (messages in), the REST API (replies, reactions, typing out) and
 * the server's {@link ChannelAdapter} contract.
 */
import { Client, Events, GatewayIntentBits, Options, Partials, Routes, type Message } from 'discord.js';
import { DeferredDeliveryError, PermanentDeliveryError, type ChannelAdapter, type Delivery, type InboundSink } from '../../src/channels/types.js';
import type { OutboundEvent } from '../../src/events.js';
import type { BrineConfig } from '../../src/config/schema.js';
import { BrineError, describeError } from '../../src/errors.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import { channelIdOfSource, classifyDiscordMessage, DISCORD_SOURCE_PREFIX } from './normalize.js';
import { fieldsFromMessage } from './message-fields.js';
import { formatDiscordReply } from './format.js';
import { gatewayFailure, isFatalCloseCode, isFatalGatewayError, isPermanentSendError } from './errors.js';
import { RecentIds } from './recent-ids.js';
import { TypingIndicators, type TypingTiming } from './typing.js';

/** Options of {@link createDiscordChannel}. */
export interface DiscordChannelOptions {
  /** The bot token (`DISCORD_BOT_TOKEN`). */
  token: string;
  /** DISCORD_API_URL ?? channels.discord.api_url, e.g. http://127.0.0.1:PORT/api; null = discord.com */
  apiUrl: string | null;
  /** Live channels.discord settings (allowlists, require_mention) — re-read per message so hot reload applies. */
  settings: () => BrineConfig['channels']['discord'];
  /** Typing refresh timing; the defaults suit Discord (tests shorten them). */
  typing?: Partial<TypingTiming>;
}

/** The reaction put on a message while its turn waits for the agent. */
export const QUEUED_REACTION = '⏳';

/**
 * Creates the Discord channel (name `discord`, sources `platform-discord:`).
 * {@link ChannelAdapter.start} logs in and resolves once the client is
 * ready; it rejects with a {@link BrineError} saying what to fix when
 * Discord refuses the token (4004) or the Message Content intent (4014).
 */
export function createDiscordChannel(options: DiscordChannelOptions): ChannelAdapter {
  return new DiscordChannel(options);
}

type State = 'idle' | 'starting' | 'ready' | 'failed' | 'stopped';

/** A queued message's hourglass: where it is, and whether putting it there worked. */
interface Hourglass {
  channelId: string;
  messageId: string;
  added: Promise<boolean>;
}

class DiscordChannel implements ChannelAdapter {
  readonly name = 'discord';
  readonly #options: DiscordChannelOptions;
  readonly #seen = new RecentIds();
  readonly #typing: TypingIndicators;
  /** By inbound event id. */
  readonly #hourglasses = new Map<string, Hourglass>();
  #client: Client | null = null;
  #state: State = 'idle';
  #logger: Logger = silentLogger();
  /**
   * Settles when start() does. Sends made before (replies resumed from the
   * outbox while the server is still starting its channels) wait for it.
   */
  readonly #startSettled: Promise<void>;
  #settleStart!: () => void;
  /** Fails a start in progress when the gateway closes for good before the client is ready. */
  #failStart: ((error: BrineError) => void) | null = null;

  constructor(options: DiscordChannelOptions) {
    this.#options = options;
    this.#startSettled = new Promise((resolve) => (this.#settleStart = resolve));
    this.#typing = new TypingIndicators({
      send: (channelId) => this.#rest(Routes.channelTyping(channelId), 'post'),
      onError: (err, channelId) => this.#logger.debug({ err: describeError(err), channelId }, 'typing indicator failed'),
      ...(options.typing && { timing: options.typing }),
    });
  }

  owns(source: string): boolean {
    return source.startsWith(DISCORD_SOURCE_PREFIX);
  }

  format(text: string, kind: 'reply' | 'error'): string[] {
    return formatDiscordReply(text, kind);
  }

  async start(sink: InboundSink, logger: Logger): Promise<void> {
    if (this.#state !== 'idle') throw new BrineError('discord_restart', `The Discord channel cannot start from state "${this.#state}"; create a new one.`);
    this.#logger = logger;
    this.#state = 'starting';
    const client = this.#createClient();
    this.#client = client;
    const fatal = new Promise<never>((_, reject) => (this.#failStart = reject));
    const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
    client.on(Events.MessageCreate, (message) => void this.#onMessage(message, sink));
    try {
      const login = client.login(this.#options.token);
      // If a fatal close wins the race, login still rejects later: that is expected, not unhandled.
      login.catch(() => {});
      await Promise.race([login, fatal]);
      await Promise.race([ready, fatal]);
      // (Unless stop() came meanwhile: it destroyed the client already.)
      if (this.#state === 'starting') this.#state = 'ready';
    } catch (err) {
      if (this.#state === 'starting') this.#state = 'failed';
      this.#client = null;
      // discord.js destroys the client on a failed login; this also covers a fatal close after it,
      // so nothing is left to reconnect in a loop. The server logs the error (one line).
      await client.destroy().catch(() => {});
      throw err instanceof BrineError ? err : gatewayFailure({ error: err });
    } finally {
      this.#failStart = null;
      this.#settleStart();
    }
    if (this.#state === 'ready') logger.info({ user: client.user?.tag, guilds: client.guilds.cache.size }, 'connected to Discord');
  }

  async stop(): Promise<void> {
    this.#state = 'stopped';
    // Sends still waiting for a start that will never come give up (deferred) instead of hanging.
    this.#settleStart();
    this.#typing.stopAll();
    this.#hourglasses.clear();
    const client = this.#client;
    this.#client = null;
    await client?.destroy();
  }

  async send(delivery: Delivery, index: number): Promise<void> {
    const client = await this.#readyClient();
    const channelId = channelIdOfSource(delivery.source);
    if (!channelId) throw new PermanentDeliveryError(`${delivery.source} does not name a Discord channel (expected platform-discord:<user_id>:<channel_id>)`);
    const content = delivery.chunks[index];
    if (content === undefined) throw new PermanentDeliveryError(`delivery ${delivery.id} has no part ${index}`);
    const last = index === delivery.chunks.length - 1;
    if (last && delivery.replyTo) {
      // Before the send: a typing request landing after the answer would show "typing" again for 10 s.
      this.#typing.stop(delivery.replyTo);
      void this.#clearHourglass(delivery.replyTo);
    }
    const replyTo = index === 0 ? contextString(delivery.context, 'messageId') : undefined;
    try {
      const channel = await client.channels.fetch(channelId);
      if (!channel?.isSendable()) throw new PermanentDeliveryError(`Discord channel ${channelId} does not take messages`);
      // allowedMentions comes from the client options: no text can ping anyone but the asker.
      await channel.send({ content, ...(replyTo && { reply: { messageReference: replyTo, failIfNotExists: false } }) });
    } catch (err) {
      if (err instanceof PermanentDeliveryError || !isPermanentSendError(err)) throw err;
      throw new PermanentDeliveryError(`Discord refused the message for channel ${channelId}: ${describeError(err)}`, { cause: err });
    }
  }

  async notify(event: OutboundEvent): Promise<void> {
    if (this.#state !== 'ready') return;
    const channelId = contextString(event.context, 'channelId') ?? channelIdOfSource(event.source);
    const messageId = contextString(event.context, 'messageId');
    if (!channelId) return;
    if (event.type === 'queued' && messageId && !this.#hourglasses.has(event.replyTo)) {
      const added = this.#rest(Routes.channelMessageOwnReaction(channelId, messageId, encodeURIComponent(QUEUED_REACTION)), 'put').then(
        () => true,
        (err: unknown) => {
          // Most likely the bot lacks Add Reactions here; the answer still comes.
          this.#logger.debug({ err: describeError(err), channelId }, 'could not add the queued reaction');
          return false;
        },
      );
      this.#hourglasses.set(event.replyTo, { channelId, messageId, added });
      await added;
    } else if (event.type === 'started') {
      this.#typing.start(event.replyTo, channelId);
      await this.#clearHourglass(event.replyTo);
    }
  }

  #createClient(): Client {
    const apiUrl = this.#options.apiUrl?.replace(/\/+$/, '');
    const client = new Client({
      intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent, GatewayIntentBits.DirectMessages],
      // Without the Channel partial, discord.js drops DMs: their channel is not cached when the first one arrives.
      partials: [Partials.Channel],
      // LLM text must never ping @everyone, @here, roles or users; a reply may still notify its asker.
      allowedMentions: { parse: [], repliedUser: true },
      // Replying to a message deleted meanwhile posts a plain message instead of failing.
      failIfNotExists: false,
      // Brine never reads cached messages (it dedupes replays itself), so it keeps none.
      makeCache: Options.cacheWithLimits({ ...Options.DefaultMakeCacheSettings, MessageManager: 0 }),
      // With a custom API, discord.js also asks it (GET /gateway/bot) where the gateway is.
      ...(apiUrl && { rest: { api: apiUrl } }),
    });
    client.on(Events.ShardDisconnect, (event) => this.#onFatalClose(event.code));
    client.on(Events.ShardReconnecting, () => {
      // discord.js says "reconnecting" on its own destroy() too.
      if (this.#state === 'ready') this.#logger.info('Discord gateway disconnected; reconnecting');
    });
    client.on(Events.ShardResume, (_id, replayed) => this.#logger.info({ replayed }, 'Discord gateway resumed'));
    client.on(Events.ShardError, (err) => {
      // A fatal close also comes as an error; it is reported once, through the close (#onFatalClose).
      if (isFatalGatewayError(err)) this.#logger.debug({ err: describeError(err) }, 'Discord gateway error (fatal close)');
      else this.#logger.warn({ err: describeError(err) }, 'Discord gateway error');
    });
    client.on(Events.Warn, (message) => this.#logger.warn(message));
    // An 'error' event without a listener would crash the process.
    client.on(Events.Error, (err) => this.#logger.error({ err: describeError(err) }, 'Discord client error'));
    return client;
  }

  /**
   * A gateway close discord.js will not recover from. While starting, start()
   * rejects with it (the server logs it); once running, it is logged here,
   * once, and the client is destroyed: no reconnect loop against a bad token.
   */
  #onFatalClose(code: number): void {
    if (!isFatalCloseCode(code)) return;
    const error = gatewayFailure({ closeCode: code });
    if (this.#state === 'starting') {
      this.#failStart?.(error);
      return;
    }
    if (this.#state !== 'ready') return;
    this.#state = 'failed';
    this.#typing.stopAll();
    this.#logger.error({ code: error.code, closeCode: code }, error.message);
    const client = this.#client;
    this.#client = null;
    void client?.destroy().catch(() => {});
  }

  async #onMessage(message: Message, sink: InboundSink): Promise<void> {
    const botId = this.#client?.user?.id;
    if (!botId) return;
    if (this.#seen.has(message.id)) {
      this.#logger.debug({ messageId: message.id }, 'Discord message seen before (gateway replay); ignored');
      return;
    }
    const result = classifyDiscordMessage(fieldsFromMessage(message), botId, this.#options.settings());
    if (!result.ok) {
      const refused = result.reason === 'user_not_allowed' || result.reason === 'channel_not_allowed';
      this.#logger[refused ? 'info' : 'debug']({ messageId: message.id, userId: message.author.id, channelId: message.channelId, reason: result.reason }, 'Discord message not answered');
      return;
    }
    this.#seen.add(message.id);
    try {
      const accepted = await sink.accept(result.message);
      if (!accepted) this.#logger.debug({ messageId: message.id }, 'Discord message already accepted; ignored');
    } catch (err) {
      // Not accepted (e.g. shutting down): a redelivery may try again.
      this.#seen.delete(message.id);
      this.#logger.warn({ err: describeError(err), messageId: message.id }, 'Discord message not accepted; dropped');
    }
  }

  /** The client once ready; a reply that cannot go out now waits in the outbox. */
  async #readyClient(): Promise<Client> {
    if (this.#state === 'idle' || this.#state === 'starting') await this.#startSettled;
    const client = this.#client;
    if (this.#state !== 'ready' || !client) {
      throw new DeferredDeliveryError(`Discord is not connected (${this.#state}); the reply stays in the outbox for the next start`);
    }
    return client;
  }

  async #clearHourglass(replyTo: string): Promise<void> {
    const hourglass = this.#hourglasses.get(replyTo);
    if (!hourglass) return;
    this.#hourglasses.delete(replyTo);
    // Wait for the PUT: a DELETE overtaking it would leave the hourglass up for good.
    if (!(await hourglass.added)) return;
    const route = Routes.channelMessageOwnReaction(hourglass.channelId, hourglass.messageId, encodeURIComponent(QUEUED_REACTION));
    await this.#rest(route, 'delete').catch((err: unknown) => this.#logger.debug({ err: describeError(err) }, 'could not remove the queued reaction'));
  }

  async #rest(route: `/${string}`, method: 'post' | 'put' | 'delete'): Promise<void> {
    const client = this.#client;
    if (!client || this.#state !== 'ready') return;
    await client.rest[method](route);
  }
}

/** A string field of an event's opaque context. */
function contextString(context: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = context?.[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}
