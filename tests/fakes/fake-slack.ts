/**
 * A fake Slack for tests, on 127.0.0.1 (a free port): the few Web API
 * methods Brine calls, and the Socket Mode server.
 *
 * Point Bolt at it with `clientOptions.slackApiUrl = fake.apiUrl`
 * (`http://127.0.0.1:PORT/api/`). Web API calls are POSTs to
 * `/api/<method>` (form-encoded, or JSON), answered HTTP 200 with
 * `{ ok: true, ... }` or `{ ok: false, error }`, like Slack:
 * - `auth.test` -> the bot's identity ({@link FakeSlack.identity}); Bolt needs `user_id` and `bot_id`.
 * - `chat.postMessage` -> recorded in {@link FakeSlack.posts}, answered with a fresh `ts`.
 * - `reactions.add` / `reactions.remove` -> recorded in {@link FakeSlack.reactions}
 *   (`already_reacted` / `no_reaction` like Slack).
 * - `apps.connections.open` (app-level token) -> a `ws://127.0.0.1:PORT/socket?ticket=...` URL.
 * Any method can be made to fail once with {@link FakeSlack.failNext}: a
 * Slack error (`channel_not_found`), an HTTP 429 with `Retry-After`, or a 5xx.
 *
 * Socket Mode: a client connecting to that URL gets `hello`; then
 * {@link FakeSlack.sendEvent} sends an `events_api` envelope
 * `{ envelope_id, type, payload, accepts_response_payload, retry_attempt, retry_reason }`
 * and every ack (`{ envelope_id, payload }`) is recorded in {@link FakeSlack.acks}.
 *
 * Every wait is on a recorded fact ({@link FakeSlack.waitFor}), never a sleep.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';

/** The bot the fake says the token belongs to. */
export interface FakeSlackIdentity {
  userId: string;
  botId: string;
  teamId: string;
  team: string;
  user: string;
  appId: string;
}

/** One Web API call as received. */
export interface FakeSlackCall {
  method: string;
  /** Parsed arguments (form fields as strings; JSON as sent). */
  args: Record<string, unknown>;
  /** The bearer token, if any. */
  token: string | undefined;
  /** What was answered: the Slack error code, `http <status>`, or 'ok'. */
  result: string;
}

/** A message posted with chat.postMessage (successful calls only). */
export interface FakeSlackPost {
  channel: string;
  text: string;
  thread_ts?: string;
  unfurl_links?: boolean;
  unfurl_media?: boolean;
  /** The ts the fake gave it. */
  ts: string;
  /** Every argument as received. */
  args: Record<string, unknown>;
}

/** A successful reactions.add / reactions.remove. */
export interface FakeSlackReaction {
  action: 'add' | 'remove';
  channel: string;
  timestamp: string;
  name: string;
}

/** An ack received on the Socket Mode connection. */
export interface FakeSlackAck {
  envelope_id: string;
  payload: unknown;
}

/** How a Web API call fails, once. */
export type FakeSlackFailure = { error: string } | { status: 429; retryAfter: number } | { status: number; body?: string };

/** Options of {@link startFakeSlack}. */
export interface FakeSlackOptions {
  /** The bot token auth.test accepts (default: any non-empty token). */
  botToken?: string;
  /** The app-level token apps.connections.open accepts (default: any token starting with `xapp-`). */
  appToken?: string;
  identity?: Partial<FakeSlackIdentity>;
}

interface Waiter {
  check: () => boolean;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** A running fake Slack; create it with {@link startFakeSlack}. */
export class FakeSlack {
  /** Web API base for Bolt's `slackApiUrl`, e.g. `http://127.0.0.1:40123/api/`. */
  readonly apiUrl: string;
  readonly identity: FakeSlackIdentity;
  /** Every Web API call, in arrival order. */
  readonly calls: FakeSlackCall[] = [];
  readonly posts: FakeSlackPost[] = [];
  readonly reactions: FakeSlackReaction[] = [];
  readonly acks: FakeSlackAck[] = [];
  /** Socket Mode connections opened so far (each got a hello). */
  socketConnections = 0;

  readonly #server: Server;
  readonly #wss = new WebSocketServer({ noServer: true });
  readonly #sockets = new Set<WebSocket>();
  readonly #failures = new Map<string, FakeSlackFailure[]>();
  readonly #current = new Set<string>(); // reactions in place: channel|ts|name
  readonly #waiters = new Set<Waiter>();
  readonly #tickets = new Set<string>();
  readonly #options: FakeSlackOptions;
  #seq = 0;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link startFakeSlack}. */
  constructor(server: Server, port: number, options: FakeSlackOptions) {
    this.#server = server;
    this.#options = options;
    this.apiUrl = `http://127.0.0.1:${port}/api/`;
    this.identity = { userId: 'UBOT', botId: 'BBOT', teamId: 'T0FAKE', team: 'Fake Team', user: 'brine', appId: 'A0FAKE', ...options.identity };
    server.on('request', (req, res) => this.#onRequest(req, res));
    server.on('upgrade', (req, socket: Duplex, head: Buffer) => this.#onUpgrade(req, socket, head));
  }

  /** Makes the next call of `method` fail as described (queued: several calls fail in turn). */
  failNext(method: string, failure: FakeSlackFailure): void {
    const queue = this.#failures.get(method) ?? [];
    queue.push(failure);
    this.#failures.set(method, queue);
  }

  /** Calls of one method. */
  callsOf(method: string): FakeSlackCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Posts to one thread (`thread_ts`), in order. */
  postsIn(channel: string, threadTs: string): FakeSlackPost[] {
    return this.posts.filter((p) => p.channel === channel && p.thread_ts === threadTs);
  }

  /**
   * Sends an Events API payload (an `event_callback` body) over every open
   * Socket Mode connection, as an `events_api` envelope; returns its
   * envelope_id (see {@link waitForAck}).
   */
  sendEvent(payload: object, options: { retryAttempt?: number; retryReason?: string; envelopeId?: string } = {}): string {
    if (this.#sockets.size === 0) throw new Error('fake-slack: no Socket Mode client is connected');
    const envelopeId = options.envelopeId ?? randomUUID();
    const envelope = {
      envelope_id: envelopeId,
      type: 'events_api',
      payload,
      accepts_response_payload: false,
      retry_attempt: options.retryAttempt ?? 0,
      retry_reason: options.retryReason ?? '',
    };
    for (const ws of this.#sockets) ws.send(JSON.stringify(envelope));
    return envelopeId;
  }

  /** Resolves with the ack of an envelope once it arrived. */
  async waitForAck(envelopeId: string, timeoutMs = 5_000): Promise<FakeSlackAck> {
    await this.waitFor(() => this.acks.some((a) => a.envelope_id === envelopeId), `the ack of envelope ${envelopeId}`, timeoutMs);
    return this.acks.find((a) => a.envelope_id === envelopeId)!;
  }

  /** Socket Mode connections open now. */
  get openSockets(): number {
    return this.#sockets.size;
  }

  /**
   * Resolves once `check` is true, re-checked after every recorded call,
   * post, reaction, ack and socket change; rejects after `timeoutMs` with
   * what did happen.
   */
  waitFor(check: () => boolean, description: string, timeoutMs = 5_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        check,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          reject(new Error(`fake-slack: timed out after ${timeoutMs} ms waiting for ${description}; calls: ${JSON.stringify(this.calls.map((c) => `${c.method}:${c.result}`))}`));
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  /** Closes sockets and the server. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      for (const w of this.#waiters) {
        clearTimeout(w.timer);
        w.reject(new Error('fake-slack: closed while waiting'));
      }
      this.#waiters.clear();
      for (const ws of this.#sockets) ws.terminate();
      this.#wss.close();
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    return this.#closing;
  }

  #changed(): void {
    for (const w of [...this.#waiters]) {
      if (!w.check()) continue;
      this.#waiters.delete(w);
      clearTimeout(w.timer);
      w.resolve();
    }
  }

  #nextTs(): string {
    this.#seq += 1;
    return `1800000000.${String(this.#seq).padStart(6, '0')}`;
  }

  // ----- Web API -----------------------------------------------------------

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
      if (req.method !== 'POST' || !path.startsWith('/api/')) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('fake-slack: not found');
        return;
      }
      const method = path.slice('/api/'.length);
      const args = parseArgs(Buffer.concat(chunks).toString('utf8'), req.headers['content-type']);
      const auth = req.headers.authorization;
      const token = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length) : typeof args.token === 'string' ? args.token : undefined;
      this.#answer(method, args, token, res);
    });
  }

  #answer(method: string, args: Record<string, unknown>, token: string | undefined, res: ServerResponse): void {
    const record = (result: string) => {
      this.calls.push({ method, args, token, result });
    };
    const failure = this.#failures.get(method)?.shift();
    if (failure) {
      if ('error' in failure) {
        record(failure.error);
        sendJson(res, 200, { ok: false, error: failure.error });
      } else if (failure.status === 429 && 'retryAfter' in failure) {
        record('http 429');
        sendJson(res, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(failure.retryAfter) });
      } else {
        record(`http ${failure.status}`);
        res.writeHead(failure.status, { 'content-type': 'text/plain' }).end('body' in failure && failure.body ? failure.body : 'fake-slack: failure on demand');
      }
      this.#changed();
      return;
    }
    const reply = this.#dispatch(method, args, token);
    record(reply.ok ? 'ok' : String(reply.error));
    sendJson(res, 200, reply);
    this.#changed();
  }

  #dispatch(method: string, args: Record<string, unknown>, token: string | undefined): Record<string, unknown> {
    const id = this.identity;
    const isAppToken = token !== undefined && (this.#options.appToken ? token === this.#options.appToken : token.startsWith('xapp-'));
    const isBotToken = token !== undefined && token !== '' && !isAppToken && (this.#options.botToken === undefined || token === this.#options.botToken);
    if (method === 'apps.connections.open') {
      if (!isAppToken) return { ok: false, error: token ? 'invalid_auth' : 'not_authed' };
      const ticket = randomUUID();
      this.#tickets.add(ticket);
      return { ok: true, url: `${this.apiUrl.replace(/^http/, 'ws').replace(/\/api\/$/, '')}/socket?ticket=${ticket}` };
    }
    if (!isBotToken) return { ok: false, error: token ? 'invalid_auth' : 'not_authed' };
    switch (method) {
      case 'auth.test':
        return { ok: true, url: 'https://fake.slack.test/', team: id.team, user: id.user, team_id: id.teamId, user_id: id.userId, bot_id: id.botId, is_enterprise_install: false };
      case 'chat.postMessage': {
        const channel = str(args.channel);
        const text = str(args.text);
        if (!channel) return { ok: false, error: 'channel_not_found' };
        if (!text && args.blocks === undefined) return { ok: false, error: 'no_text' };
        const ts = this.#nextTs();
        const post: FakeSlackPost = { channel, text, ts, args };
        if (args.thread_ts !== undefined) post.thread_ts = str(args.thread_ts);
        if (args.unfurl_links !== undefined) post.unfurl_links = bool(args.unfurl_links);
        if (args.unfurl_media !== undefined) post.unfurl_media = bool(args.unfurl_media);
        this.posts.push(post);
        return { ok: true, channel, ts, message: { type: 'message', user: id.userId, bot_id: id.botId, text, ts, ...(post.thread_ts && { thread_ts: post.thread_ts }) } };
      }
      case 'reactions.add':
      case 'reactions.remove': {
        const reaction = { channel: str(args.channel), timestamp: str(args.timestamp), name: str(args.name) };
        if (!reaction.channel || !reaction.timestamp || !reaction.name) return { ok: false, error: 'invalid_arguments' };
        const key = `${reaction.channel}|${reaction.timestamp}|${reaction.name}`;
        const adding = method === 'reactions.add';
        if (adding && this.#current.has(key)) return { ok: false, error: 'already_reacted' };
        if (!adding && !this.#current.has(key)) return { ok: false, error: 'no_reaction' };
        if (adding) this.#current.add(key);
        else this.#current.delete(key);
        this.reactions.push({ action: adding ? 'add' : 'remove', ...reaction });
        return { ok: true };
      }
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  // ----- Socket Mode -------------------------------------------------------

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const ticket = url.searchParams.get('ticket') ?? '';
    if (url.pathname !== '/socket' || !this.#tickets.delete(ticket)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onSocket(ws));
  }

  #onSocket(ws: WebSocket): void {
    this.#sockets.add(ws);
    this.socketConnections += 1;
    ws.on('message', (data) => {
      let frame: unknown;
      try {
        frame = JSON.parse(String(data));
      } catch {
        return;
      }
      if (isObject(frame) && typeof frame.envelope_id === 'string') {
        this.acks.push({ envelope_id: frame.envelope_id, payload: frame.payload });
        this.#changed();
      }
    });
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      this.#sockets.delete(ws);
      this.#changed();
    });
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: this.#sockets.size,
        debug_info: { host: 'fake-slack', build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: this.identity.appId },
      }),
    );
    this.#changed();
  }
}

/** Starts a fake Slack on 127.0.0.1 (free port). Always `await fake.close()` after. */
export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return new FakeSlack(server, (server.address() as AddressInfo).port, options);
}

function parseArgs(body: string, contentType: string | undefined): Record<string, unknown> {
  if (body === '') return {};
  if (contentType?.includes('application/json')) {
    const parsed: unknown = JSON.parse(body);
    return isObject(parsed) ? parsed : {};
  }
  return Object.fromEntries(new URLSearchParams(body));
}

function sendJson(res: ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
}

/** Form fields arrive as "true"/"false". */
function bool(value: unknown): boolean {
  return value === true || value === 'true' || value === '1';
}
