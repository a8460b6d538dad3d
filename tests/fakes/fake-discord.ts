/**
 * A fake Discord on 127.0.0.1 for tests: the REST API under `/api/v10` and a
 * JSON gateway (v10, no compression), enough for the real discord.js client
 * to log in, receive messages and answer them.
 *
 * Point discord.js at it with `rest: { api: fake.apiUrl }`: the client asks
 * `GET /gateway/bot` for the gateway URL, connects there, gets HELLO, sends
 * IDENTIFY, gets READY (guilds as unavailable stubs) then one GUILD_CREATE
 * per guild (discord.js is only `ready` once every READY guild arrived).
 *
 * Things learned the hard way: discord.js percent-encodes path parameters
 * (`/users/%40me`, reactions' emoji), so routes are matched on the decoded
 * path; it only compresses the gateway with the optional `zlib-sync` package,
 * so plain JSON text frames are all the fake speaks; ids must be real
 * snowflakes (discord.js reads timestamps out of them).
 *
 * Tests drive it with {@link FakeDiscord.mention} / {@link FakeDiscord.dm} /
 * {@link FakeDiscord.injectMessage}, make routes fail on demand with
 * {@link FakeDiscord.fail} (429 with Retry-After, 404, 403), close the gateway
 * with {@link FakeDiscord.closeWith}, and await what the client did with
 * {@link FakeDiscord.waitForCall} / {@link FakeDiscord.waitFor}.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import { ChannelKind, channelObject, guildCreateObject, messageObject, snowflake, userObject, type FakeChannel, type FakeGuild, type FakeUser } from './fake-discord-payloads.js';

export { ChannelKind, snowflake, type FakeChannel, type FakeGuild, type FakeUser } from './fake-discord-payloads.js';

/** Gateway opcodes (https://discord.com/developers/docs/topics/opcodes-and-status-codes). */
const Op = { Dispatch: 0, Heartbeat: 1, Identify: 2, Resume: 6, Reconnect: 7, InvalidSession: 9, Hello: 10, HeartbeatAck: 11 } as const;
/** The privileged intent a bot must have switched on in the Developer Portal to read message text. */
export const MESSAGE_CONTENT_INTENT = 1 << 15;

/** One REST request the fake received. */
export interface RestCall {
  /** 0-based arrival order. */
  seq: number;
  method: string;
  /** Path below `/api/v10`, percent-decoded, e.g. `/channels/1/messages/2/reactions/⏳/@me`. */
  path: string;
  /** The path as requested, still encoded. */
  rawPath: string;
  /** Parsed JSON body (undefined when there was none). */
  body: any;
  headers: IncomingHttpHeaders;
  /** The status the fake answered with. */
  status: number;
}

/** A failure to answer instead of the route's normal response. */
export interface FaultSpec {
  method: string;
  /** Matched against the decoded path below /api/v10. */
  path: RegExp;
  status: number;
  /** How many matching requests fail (default 1). */
  times?: number;
  /** For 429: seconds in the `Retry-After` header and `retry_after` of the body. */
  retryAfterS?: number;
  /** Discord JSON error code of the body (e.g. 10003 Unknown Channel, 50001 Missing Access). */
  code?: number;
  message?: string;
}

/** A dispatch as logged for RESUME replays. */
export interface Dispatch {
  s: number;
  t: string;
  d: any;
}

interface Session {
  id: string;
  seq: number;
  log: Dispatch[];
  socket: WebSocket | null;
  /** Already-delivered dispatches to send again on the next RESUME (a replay the client must dedupe). */
  replay: ((dispatch: Dispatch) => boolean) | null;
}

/** Options of {@link startFakeDiscord}. */
export interface FakeDiscordOptions {
  /** The token the fake accepts (default `test-token`); others get 401 / close 4004. */
  token?: string;
  /** False: the Message Content intent is "not enabled in the Developer Portal", an IDENTIFY asking for it is closed with 4014. */
  messageContentIntent?: boolean;
  /** HELLO's heartbeat interval (default 41250 ms, as Discord). */
  heartbeatIntervalMs?: number;
  /** Echo the bot's own posts back as MESSAGE_CREATE, as Discord does (default true). */
  echoOwnMessages?: boolean;
}

interface Waiter {
  check: () => boolean;
  wake: () => void;
}

/** A running fake Discord; create with {@link startFakeDiscord}. */
export class FakeDiscord {
  /** Base of the REST API for discord.js `rest.api`, e.g. `http://127.0.0.1:40000/api`. */
  readonly apiUrl: string;
  /** The gateway URL `GET /gateway/bot` hands out. */
  readonly gatewayUrl: string;
  readonly bot: FakeUser = { id: snowflake(), username: 'brine', bot: true };
  readonly alice: FakeUser = { id: snowflake(), username: 'alice', global_name: 'Alice' };
  readonly bob: FakeUser = { id: snowflake(), username: 'bob', global_name: 'Bob' };
  readonly otherBot: FakeUser = { id: snowflake(), username: 'otherbot', bot: true };
  readonly guild: FakeGuild;
  /** `#general`, `#cookie` (tests bind it to Cookie) and a thread under #general. */
  readonly general: FakeChannel;
  readonly cookie: FakeChannel;
  readonly thread: FakeChannel;
  /** Every REST request, in arrival order. */
  readonly calls: RestCall[] = [];
  /** IDENTIFY payloads received (`d`). */
  readonly identifies: any[] = [];
  /** RESUME payloads received (`d`). */
  readonly resumes: any[] = [];
  /** Gateway connections opened. */
  connections = 0;
  /** See {@link FakeDiscordOptions.messageContentIntent}. */
  messageContentIntent: boolean;
  readonly #token: string;
  readonly #heartbeatIntervalMs: number;
  readonly #echo: boolean;
  readonly #http: Server;
  readonly #wss = new WebSocketServer({ noServer: true });
  readonly #channels = new Map<string, FakeChannel>();
  readonly #messages = new Map<string, Record<string, unknown>>();
  readonly #faults: (FaultSpec & { left: number })[] = [];
  readonly #waiters = new Set<Waiter>();
  #session: Session | null = null;

  /** @internal Use {@link startFakeDiscord}. */
  constructor(http: Server, port: number, options: FakeDiscordOptions) {
    this.#http = http;
    this.apiUrl = `http://127.0.0.1:${port}/api`;
    this.gatewayUrl = `ws://127.0.0.1:${port}`;
    this.#token = options.token ?? 'test-token';
    this.messageContentIntent = options.messageContentIntent ?? true;
    this.#heartbeatIntervalMs = options.heartbeatIntervalMs ?? 41_250;
    this.#echo = options.echoOwnMessages ?? true;
    const guildId = snowflake();
    this.general = { id: snowflake(), type: ChannelKind.GuildText, name: 'general', guildId };
    this.cookie = { id: snowflake(), type: ChannelKind.GuildText, name: 'cookie', guildId };
    this.thread = { id: snowflake(), type: ChannelKind.PublicThread, name: 'a thread', guildId, parentId: this.general.id };
    this.guild = { id: guildId, name: 'Test Guild', channels: [this.general, this.cookie, this.thread] };
    for (const channel of this.guild.channels) this.#channels.set(channel.id, channel);
  }

  // ----- driving the client ------------------------------------------------

  /** Sends MESSAGE_CREATE for a new message (recorded, so the fake knows it for reactions). Returns its payload. */
  injectMessage(spec: { channel: FakeChannel; author: FakeUser; content: string; mentions?: FakeUser[] }): Record<string, any> {
    const message = messageObject({ ...spec, dispatch: true });
    this.#messages.set(message.id as string, message);
    this.dispatch('MESSAGE_CREATE', message);
    return message;
  }

  /** `<@bot> text` from `author` in a guild channel (default #general), mentioning the bot. */
  mention(author: FakeUser, text: string, channel: FakeChannel = this.general): Record<string, any> {
    return this.injectMessage({ channel, author, content: `<@${this.bot.id}> ${text}`, mentions: [this.bot] });
  }

  /** A DM from `author` (`channel_type: 1`, no guild_id), in the DM channel the fake keeps for that user. */
  dm(author: FakeUser, text: string): Record<string, any> {
    return this.injectMessage({ channel: this.dmChannelOf(author), author, content: text });
  }

  /** The DM channel between the bot and `user` (made on first use; `GET /channels/:id` answers it). */
  dmChannelOf(user: FakeUser): FakeChannel {
    for (const channel of this.#channels.values()) if (channel.type === ChannelKind.DM && channel.recipient?.id === user.id) return channel;
    const channel: FakeChannel = { id: snowflake(), type: ChannelKind.DM, recipient: user };
    this.#channels.set(channel.id, channel);
    return channel;
  }

  /**
   * Sends a dispatch on the current session (logged for RESUME; if no socket
   * is connected right now, it waits in the log and is replayed on RESUME).
   */
  dispatch(t: string, d: unknown): Dispatch | null {
    const session = this.#session;
    if (!session) return null;
    const dispatch = { s: ++session.seq, t, d };
    session.log.push(dispatch);
    if (session.socket) send(session.socket, { op: Op.Dispatch, ...dispatch });
    return dispatch;
  }

  /**
   * Closes the gateway socket with `code` (4000 unknown error: discord.js
   * resumes; 4004 / 4014: fatal). `replay` picks already-delivered dispatches
   * to send again on the next RESUME, besides the missed ones.
   */
  closeWith(code: number, options: { reason?: string; replay?: (dispatch: Dispatch) => boolean } = {}): void {
    const session = this.#session;
    const socket = session?.socket;
    if (!session || !socket) throw new Error('fake-discord: no gateway connection to close');
    // Detached at once: whatever is dispatched from now on is "missed" and waits for RESUME.
    session.socket = null;
    session.replay = options.replay ?? null;
    socket.close(code, options.reason ?? `fake close ${code}`);
  }

  /** Makes the next matching REST request(s) fail (see {@link FaultSpec}). */
  fail(spec: FaultSpec): void {
    this.#faults.push({ ...spec, left: spec.times ?? 1 });
  }

  // ----- observing ---------------------------------------------------------

  /** REST calls matching `method` and a decoded `path` pattern. */
  callsTo(method: string, path: RegExp): RestCall[] {
    return this.calls.filter((c) => c.method === method && path.test(c.path));
  }

  /** Messages the bot posted successfully (the POST calls), in order; optionally in one channel. */
  posted(channelId?: string): RestCall[] {
    return this.callsTo('POST', /^\/channels\/\d+\/messages$/).filter((c) => c.status === 200 && (channelId === undefined || c.path === `/channels/${channelId}/messages`));
  }

  /** Typing requests for a channel. */
  typing(channelId: string): RestCall[] {
    return this.callsTo('POST', new RegExp(`^/channels/${channelId}/typing$`));
  }

  /** Reaction calls (`PUT` add / `DELETE` remove) of the bot on a message. */
  reactions(messageId: string): RestCall[] {
    return this.calls.filter((c) => new RegExp(`^/channels/\\d+/messages/${messageId}/reactions/[^/]+/@me$`).test(c.path));
  }

  /** Resolves with the first REST call (so far or later) that matches. */
  waitForCall(match: (call: RestCall) => boolean, description: string, timeoutMs = 5000): Promise<RestCall> {
    return this.waitFor(() => this.calls.find(match), description, timeoutMs);
  }

  /**
   * Resolves with `check()`'s value once it is truthy, re-checked whenever the
   * fake sees a request or gateway message; rejects after `timeoutMs`.
   */
  waitFor<T>(check: () => T | undefined | null | false, description: string, timeoutMs = 5000): Promise<T> {
    const now = check();
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        check: () => Boolean(check()),
        wake: () => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(check() as T);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        const seen = this.calls.map((c) => `${c.method} ${c.path} -> ${c.status}`).join('\n  ');
        reject(new Error(`fake-discord: timed out after ${timeoutMs} ms waiting for ${description}; REST calls so far:\n  ${seen}`));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** Stops the servers, cutting any connection. */
  async close(): Promise<void> {
    for (const client of this.#wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    const closed = new Promise<void>((resolve) => this.#http.close(() => resolve()));
    this.#http.closeAllConnections();
    await closed;
  }

  #changed(): void {
    for (const waiter of [...this.#waiters]) if (waiter.check()) waiter.wake();
  }

  // ----- gateway -----------------------------------------------------------

  /** @internal */
  onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws));
  }

  #onConnection(ws: WebSocket): void {
    this.connections += 1;
    ws.on('error', () => {});
    ws.on('close', () => {
      if (this.#session?.socket === ws) this.#session.socket = null;
    });
    ws.on('message', (data) => this.#onFrame(ws, data));
    send(ws, { op: Op.Hello, d: { heartbeat_interval: this.#heartbeatIntervalMs } });
    this.#changed();
  }

  #onFrame(ws: WebSocket, data: RawData): void {
    let payload: { op?: number; d?: any };
    try {
      payload = JSON.parse(String(data)) as { op?: number; d?: any };
    } catch {
      ws.close(4002, 'Error while decoding payload.');
      return;
    }
    switch (payload.op) {
      case Op.Heartbeat:
        send(ws, { op: Op.HeartbeatAck });
        break;
      case Op.Identify:
        this.#onIdentify(ws, payload.d);
        break;
      case Op.Resume:
        this.#onResume(ws, payload.d);
        break;
      default:
        break;
    }
    this.#changed();
  }

  #onIdentify(ws: WebSocket, d: any): void {
    this.identifies.push(d);
    if (d?.token !== this.#token) return void ws.close(4004, 'Authentication failed.');
    if ((Number(d?.intents) & MESSAGE_CONTENT_INTENT) !== 0 && !this.messageContentIntent) return void ws.close(4014, 'Disallowed intent(s).');
    const session: Session = { id: randomUUID().replace(/-/g, ''), seq: 0, log: [], socket: ws, replay: null };
    this.#session = session;
    this.dispatch('READY', {
      v: 10,
      user: { ...userObject(this.bot), verified: true, mfa_enabled: false, flags: 0, email: null },
      guilds: [{ id: this.guild.id, unavailable: true }],
      session_id: session.id,
      session_type: 'normal',
      resume_gateway_url: `${this.gatewayUrl}/resume`,
      application: { id: this.bot.id, flags: 0 },
      private_channels: [],
      relationships: [],
      presences: [],
      guild_join_requests: [],
      geo_ordered_rtc_regions: [],
      _trace: ['fake-discord'],
    });
    this.dispatch('GUILD_CREATE', guildCreateObject(this.guild, this.bot));
  }

  #onResume(ws: WebSocket, d: any): void {
    this.resumes.push(d);
    const session = this.#session;
    if (!session || d?.session_id !== session.id || d?.token !== this.#token) {
      send(ws, { op: Op.InvalidSession, d: false });
      return;
    }
    session.socket = ws;
    const seen = Number(d.seq ?? 0);
    const extra = session.replay;
    session.replay = null;
    for (const dispatch of session.log) {
      if (dispatch.s > seen || extra?.(dispatch)) send(ws, { op: Op.Dispatch, ...dispatch });
    }
    this.dispatch('RESUMED', { _trace: ['fake-discord'] });
  }

  // ----- REST --------------------------------------------------------------

  /** @internal */
  onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const rawPath = new URL(req.url ?? '/', 'http://fake').pathname;
      const call: RestCall = {
        seq: this.calls.length,
        method: req.method ?? 'GET',
        path: rawPath.replace(/^\/api\/v10/, '').split('/').map(decodeSegment).join('/'),
        rawPath,
        body: parseBody(raw),
        headers: req.headers,
        status: 0,
      };
      const { status, body, headers } = this.#route(call);
      call.status = status;
      this.calls.push(call);
      reply(res, status, body, headers);
      this.#changed();
    });
  }

  #route(call: RestCall): { status: number; body?: unknown; headers?: Record<string, string> } {
    if (!call.rawPath.startsWith('/api/v10/')) return error(404, 0, '404: Not Found');
    if (call.headers.authorization !== `Bot ${this.#token}`) return error(401, 0, '401: Unauthorized');
    const fault = this.#faults.find((f) => f.left > 0 && f.method === call.method && f.path.test(call.path));
    if (fault) {
      fault.left -= 1;
      if (fault.status === 429) {
        const retryAfter = fault.retryAfterS ?? 0.1;
        return {
          status: 429,
          body: { message: 'You are being rate limited.', retry_after: retryAfter, global: false },
          headers: { 'retry-after': String(retryAfter), 'x-ratelimit-scope': 'user' },
        };
      }
      return error(fault.status, fault.code ?? 0, fault.message ?? `fake failure ${fault.status}`);
    }
    const { method, path } = call;
    let m: RegExpExecArray | null;
    if (method === 'GET' && path === '/gateway/bot') {
      return ok({ url: this.gatewayUrl, shards: 1, session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 } });
    }
    if (method === 'GET' && path === '/users/@me') return ok(userObject(this.bot));
    if (method === 'POST' && path === '/users/@me/channels') {
      const user = [this.alice, this.bob].find((u) => u.id === call.body?.recipient_id);
      return user ? ok(channelObject(this.dmChannelOf(user))) : error(400, 50033, 'Invalid Recipient(s)');
    }
    if ((m = /^\/channels\/(\d+)$/.exec(path)) && method === 'GET') {
      const channel = this.#channels.get(m[1] ?? '');
      return channel ? ok(channelObject(channel)) : error(404, 10003, 'Unknown Channel');
    }
    if ((m = /^\/channels\/(\d+)\/messages$/.exec(path)) && method === 'POST') return this.#createMessage(m[1] ?? '', call.body);
    if ((m = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(path))) {
      const message = this.#messages.get(m[2] ?? '');
      if (!message || message.channel_id !== m[1]) return error(404, 10008, 'Unknown Message');
      if (method === 'PATCH') {
        Object.assign(message, { content: call.body?.content ?? message.content, edited_timestamp: new Date().toISOString() });
        return ok(message);
      }
      if (method === 'DELETE') {
        this.#messages.delete(m[2] ?? '');
        return { status: 204 };
      }
    }
    if ((m = /^\/channels\/(\d+)\/typing$/.exec(path)) && method === 'POST') {
      return this.#channels.has(m[1] ?? '') ? { status: 204 } : error(404, 10003, 'Unknown Channel');
    }
    if ((m = /^\/channels\/(\d+)\/messages\/(\d+)\/reactions\/([^/]+)\/@me$/.exec(path)) && (method === 'PUT' || method === 'DELETE')) {
      if (!this.#channels.has(m[1] ?? '')) return error(404, 10003, 'Unknown Channel');
      return this.#messages.has(m[2] ?? '') ? { status: 204 } : error(404, 10008, 'Unknown Message');
    }
    return error(404, 0, '404: Not Found');
  }

  #createMessage(channelId: string, body: any): { status: number; body?: unknown } {
    const channel = this.#channels.get(channelId);
    if (!channel) return error(404, 10003, 'Unknown Channel');
    const content = typeof body?.content === 'string' ? body.content : '';
    if (content === '') return error(400, 50006, 'Cannot send an empty message');
    if (content.length > 2000) return error(400, 50035, 'Invalid Form Body');
    const ref = body?.message_reference as { message_id?: string; fail_if_not_exists?: boolean } | undefined;
    const original = ref?.message_id ? this.#messages.get(ref.message_id) : undefined;
    if (ref?.message_id && !original && ref.fail_if_not_exists !== false) return error(400, 50035, 'Invalid Form Body (unknown message_reference)');
    const message = messageObject({ channel, author: this.bot, content, ...(original && { reference: { message_id: original.id as string } }) });
    this.#messages.set(message.id as string, message);
    if (this.#echo) this.dispatch('MESSAGE_CREATE', { ...message, channel_type: channel.type });
    return ok(message);
  }
}

/** Starts a fake Discord on a free port of 127.0.0.1. Always `await fake.close()`. */
export async function startFakeDiscord(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  let fake: FakeDiscord | undefined;
  const http = createServer((req, res) => (fake ? fake.onRequest(req, res) : reply(res, 503)));
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => (fake ? fake.onUpgrade(req, socket, head) : socket.destroy()));
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => {
      http.off('error', reject);
      resolve();
    });
  });
  fake = new FakeDiscord(http, (http.address() as AddressInfo).port, options);
  return fake;
}

function send(ws: WebSocket, payload: object): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(payload));
}

function ok(body: unknown): { status: number; body: unknown } {
  return { status: 200, body };
}

function error(status: number, code: number, message: string): { status: number; body: unknown } {
  return { status, body: { message, code } };
}

function reply(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }).end(text);
}

function parseBody(raw: string): unknown {
  if (raw === '') return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
