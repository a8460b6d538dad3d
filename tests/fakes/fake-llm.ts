/**
 * A scriptable fake of the OpenAI chat-completions HTTP API, for tests.
 *
 * Start it with {@link startFakeLlm}, point the real `openai` SDK at
 * `fake.baseURL`, and script replies with {@link FakeLlm.setHandler} or
 * {@link FakeLlm.enqueue}. Requests can be parked ("held") so concurrency
 * tests can observe exactly how many requests are in flight per key.
 *
 * Lifecycle of one `POST /v1/chat/completions` request:
 * 1. The body is read, parsed and recorded in {@link FakeLlm.requests}; its
 *    key is computed with {@link FakeLlm.classify}.
 * 2. It is counted as in flight for that key.
 * 3. If {@link FakeLlm.holdRequests} is true it is parked until released
 *    ({@link FakeLlm.releaseNext} / {@link FakeLlm.releaseAll}).
 * 4. Only then is its reply chosen: the first {@link FakeLlm.enqueue}d reply if
 *    any, otherwise the handler's. So queued replies are consumed in *release*
 *    order, and a request aborted while parked consumes nothing.
 * 5. The reply is sent (or, for `{ hang: true }`, never sent), and the request
 *    stops counting as in flight when the response is written or the client
 *    disconnects, whichever comes first.
 *
 * @module
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

/** One content part of a multi-part message (`{ type: 'text', text }` etc.). */
export interface FakeContentPart {
  type: string;
  text?: string;
  [key: string]: unknown;
}

/** A tool call as sent back by the client inside an assistant message. */
export interface FakeMessageToolCall {
  id: string;
  type: string;
  function: { name: string; arguments: string };
}

/** A chat message as sent by the client (loosely typed). */
export interface FakeChatMessage {
  /** `'system' | 'developer' | 'user' | 'assistant' | 'tool'` in practice. */
  role: string;
  content?: string | null | FakeContentPart[];
  name?: string;
  tool_calls?: FakeMessageToolCall[];
  tool_call_id?: string;
  [key: string]: unknown;
}

/** A tool definition as sent by the client (loosely typed). */
export interface FakeToolDefinition {
  type: string;
  function: { name: string; description?: string; parameters?: unknown; strict?: boolean | null };
  [key: string]: unknown;
}

/** The JSON body of a chat-completions request (loosely typed). */
export interface FakeChatBody {
  model: string;
  messages: FakeChatMessage[];
  tools?: FakeToolDefinition[];
  tool_choice?: unknown;
  temperature?: number;
  max_tokens?: number;
  max_completion_tokens?: number;
  stream?: boolean;
  [key: string]: unknown;
}

/** A tool result found at the end of the conversation (see {@link FakeRequest.toolResults}). */
export interface FakeToolResult {
  /** `tool_call_id` of the tool message ('' if missing). */
  toolCallId: string;
  /** Text content of the tool message. */
  content: string;
  /** The raw message. */
  message: FakeChatMessage;
}

/** What a handler (and {@link FakeLlm.classify}) sees for one request. */
export interface FakeRequest {
  /** Parsed request body. */
  body: FakeChatBody;
  /** Request headers as received. */
  headers: IncomingHttpHeaders;
  /** 0-based sequence number among all chat-completions requests this fake received. */
  index: number;
  /** Text of the first `system` message, or `''`. */
  systemPrompt: string;
  /** Text of the last `user` message, or `''`. */
  lastUserMessage: string;
  /** The last message of the conversation, if any. */
  lastMessage: FakeChatMessage | undefined;
  /** The trailing run of `tool` messages after the last assistant message (empty if none). */
  toolResults: FakeToolResult[];
}

/** A tool call to put in a reply. */
export interface FakeToolCallSpec {
  name: string;
  /** Objects are `JSON.stringify`'d; strings are sent verbatim (so may be malformed JSON). */
  arguments: string | object;
  /** Defaults to a unique `call_fake_<n>`. */
  id?: string;
}

/** Reply with assistant text. */
export interface FakeContentReply {
  content: string;
  /** Defaults to `'stop'`. */
  finishReason?: 'stop' | 'length' | 'content_filter';
}

/** Reply with tool calls (and optionally some text; otherwise `content` is `null`). */
export interface FakeToolCallsReply {
  toolCalls: FakeToolCallSpec[];
  content?: string;
  /** Defaults to `'tool_calls'`. */
  finishReason?: 'tool_calls' | 'stop' | 'length';
}

/** Reply with an HTTP error and an OpenAI-style `{"error": {...}}` body. */
export interface FakeErrorReply {
  error: {
    status: number;
    message: string;
    /** Defaults to `null` in the body. */
    code?: string;
    /** Defaults to a type derived from the status (e.g. `rate_limit_error` for 429). */
    type?: string;
    /** Extra response headers, e.g. `{ 'retry-after': '1' }`. */
    headers?: Record<string, string>;
  };
}

/** Never answer; the request stays in flight until the client aborts or the fake closes. */
export interface FakeHangReply {
  hang: true;
}

/** Everything a handler or {@link FakeLlm.enqueue} may produce. */
export type FakeReply = FakeContentReply | FakeToolCallsReply | FakeErrorReply | FakeHangReply;

/** Scripted behaviour of the fake. */
export type FakeHandler = (req: FakeRequest) => FakeReply | Promise<FakeReply>;

/** One recorded chat-completions request. */
export interface FakeRecordedRequest {
  /** Parsed JSON body. */
  body: FakeChatBody;
  headers: IncomingHttpHeaders;
  /** `Date.now()` when the body had been fully received. */
  receivedAt: number;
  /** Key from {@link FakeLlm.classify}. */
  key: string;
  /** Same as {@link FakeRequest.index}. */
  index: number;
}

/** Options for {@link startFakeLlm}. */
export interface FakeLlmOptions {
  /** Initial handler (default: reply `{ content: 'ok' }`). */
  handler?: FakeHandler;
  /** Initial in-flight key function (default: the request's `model`). */
  classify?: (req: FakeRequest) => string;
  /** Start in hold mode. Default `false`. */
  holdRequests?: boolean;
  /** Model ids served by `GET /v1/models`. Default `['fake-model', 'fake-model-mini']`. */
  models?: string[];
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** Text of a message `content` (string, null, or array of parts). */
export function messageText(content: FakeChatMessage['content']): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((part) => (typeof part.text === 'string' ? part.text : '')).join('');
  }
  return '';
}

function buildFakeRequest(body: FakeChatBody, headers: IncomingHttpHeaders, index: number): FakeRequest {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const system = messages.find((m) => m?.role === 'system');
  let lastUser: FakeChatMessage | undefined;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]?.role === 'user') {
      lastUser = messages[i];
      break;
    }
  }
  const toolResults: FakeToolResult[] = [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (!m || m.role !== 'tool') break;
    toolResults.unshift({ toolCallId: typeof m.tool_call_id === 'string' ? m.tool_call_id : '', content: messageText(m.content), message: m });
  }
  return {
    body,
    headers,
    index,
    systemPrompt: system ? messageText(system.content) : '',
    lastUserMessage: lastUser ? messageText(lastUser.content) : '',
    lastMessage: messages[messages.length - 1],
    toolResults,
  };
}

function defaultErrorType(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 429:
      return 'rate_limit_error';
    default:
      return status >= 500 ? 'server_error' : 'invalid_request_error';
  }
}

function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates a reply's shape; returns an error message or `undefined`. */
function checkReply(reply: unknown): string | undefined {
  if (!isObject(reply)) return `reply must be an object, got ${JSON.stringify(reply)}`;
  if ('hang' in reply) return reply.hang === true ? undefined : '`hang` must be true';
  if ('error' in reply) {
    const e = reply.error;
    if (!isObject(e) || typeof e.status !== 'number' || typeof e.message !== 'string') {
      return '`error` must be { status: number; message: string; ... }';
    }
    if (!Number.isInteger(e.status) || e.status < 400 || e.status > 599) return `error.status must be 400..599, got ${e.status}`;
    return undefined;
  }
  if ('toolCalls' in reply) {
    if (!Array.isArray(reply.toolCalls)) return '`toolCalls` must be an array';
    for (const tc of reply.toolCalls) {
      if (!isObject(tc) || typeof tc.name !== 'string') return 'each tool call needs a string `name`';
      if (typeof tc.arguments !== 'string' && !isObject(tc.arguments) && !Array.isArray(tc.arguments)) {
        return `tool call ${tc.name}: \`arguments\` must be a string or an object`;
      }
    }
    if (reply.content !== undefined && typeof reply.content !== 'string') return '`content` must be a string';
    return undefined;
  }
  if ('content' in reply) return typeof reply.content === 'string' ? undefined : '`content` must be a string';
  return `unrecognised reply ${JSON.stringify(reply)}; expected { content } | { toolCalls } | { error } | { hang: true }`;
}

function sendJson(res: ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.writableEnded) return;
  const text = JSON.stringify(payload);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text).toString(),
  });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, message: string, type?: string, code?: string | null, headers?: Record<string, string>): void {
  sendJson(res, status, { error: { message, type: type ?? defaultErrorType(status), param: null, code: code ?? null } }, headers);
}

interface Parked {
  key: string;
  release: (how: 'release' | 'drop') => void;
}

interface Waiter {
  check: () => boolean;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

// ---------------------------------------------------------------------------
// The fake
// ---------------------------------------------------------------------------

/**
 * A running fake chat-completions server. Create with {@link startFakeLlm}.
 */
export class FakeLlm {
  /** `http://127.0.0.1:<port>/v1` — pass as `baseURL` to the OpenAI SDK. */
  readonly baseURL: string;
  /** Every chat-completions request received, in arrival order (including rejected `stream: true` ones). */
  readonly requests: FakeRecordedRequest[] = [];
  /** Errors from the handler (thrown, or invalid replies). Each also produced a 500 response. */
  readonly handlerErrors: Error[] = [];
  /**
   * When true, each new chat-completions request is parked after being recorded and
   * counted as in flight, until {@link releaseNext}/{@link releaseAll}. Setting it
   * back to false does not release requests that are already parked.
   */
  holdRequests: boolean;
  /** Computes the in-flight accounting key of a request. Default: `body.model`. */
  classify: (req: FakeRequest) => string;
  /** Model ids listed by `GET /v1/models`. */
  models: string[];

  private handler: FakeHandler = () => ({ content: 'ok' });
  private readonly queue: FakeReply[] = [];
  private readonly parked: Parked[] = [];
  private readonly inFlightByKey = new Map<string, number>();
  private readonly maxByKey = new Map<string, number>();
  private inFlightTotal = 0;
  private maxTotal = 0;
  private readonly waiters = new Set<Waiter>();
  private toolCallCounter = 0;
  private completionCounter = 0;
  private closed = false;
  private closing: Promise<void> | undefined;

  /** @internal Use {@link startFakeLlm}. */
  constructor(
    private readonly server: Server,
    port: number,
    options: FakeLlmOptions,
  ) {
    this.baseURL = `http://127.0.0.1:${port}/v1`;
    this.holdRequests = options.holdRequests ?? false;
    this.classify = options.classify ?? ((req) => (typeof req.body.model === 'string' ? req.body.model : ''));
    this.models = options.models ?? ['fake-model', 'fake-model-mini'];
    if (options.handler) this.handler = options.handler;
  }

  // ----- scripting ---------------------------------------------------------

  /** Replaces the handler used when the queue is empty. */
  setHandler(handler: FakeHandler): void {
    this.handler = handler;
  }

  /** Appends replies; while the queue is non-empty each request consumes its first entry instead of calling the handler. */
  enqueue(...replies: FakeReply[]): void {
    this.queue.push(...replies);
  }

  /** Number of replies still queued. */
  get queuedReplies(): number {
    return this.queue.length;
  }

  // ----- accounting --------------------------------------------------------

  /** Requests currently in flight (received, not yet answered, client still connected), for `key` or overall. */
  inFlight(key?: string): number {
    return key === undefined ? this.inFlightTotal : (this.inFlightByKey.get(key) ?? 0);
  }

  /** Highest {@link inFlight} value ever observed, for `key` or overall. */
  maxInFlight(key?: string): number {
    return key === undefined ? this.maxTotal : (this.maxByKey.get(key) ?? 0);
  }

  /** Number of chat-completions requests received, for `key` or overall. */
  totalRequests(key?: string): number {
    return key === undefined ? this.requests.length : this.requests.filter((r) => r.key === key).length;
  }

  /** Recorded requests for one key. */
  requestsFor(key: string): FakeRecordedRequest[] {
    return this.requests.filter((r) => r.key === key);
  }

  // ----- hold / release ----------------------------------------------------

  /**
   * Turns hold mode on ({@link holdRequests} = true) and returns a function that
   * turns it off and releases everything parked.
   */
  gate(): () => void {
    this.holdRequests = true;
    return () => {
      this.holdRequests = false;
      this.releaseAll();
    };
  }

  /** Number of requests currently parked, for `key` or overall. */
  pending(key?: string): number {
    return key === undefined ? this.parked.length : this.parked.filter((p) => p.key === key).length;
  }

  /** Releases the oldest parked request (optionally: the oldest with `key`). Returns false if none was parked. */
  releaseNext(key?: string): boolean {
    const i = key === undefined ? 0 : this.parked.findIndex((p) => p.key === key);
    const entry = this.parked[i];
    if (i < 0 || !entry) return false;
    this.parked.splice(i, 1);
    entry.release('release');
    this.notify();
    return true;
  }

  /** Releases all parked requests (optionally only those with `key`), oldest first. Returns how many. */
  releaseAll(key?: string): number {
    let n = 0;
    while (this.releaseNext(key)) n++;
    return n;
  }

  /**
   * Resolves once at least `n` requests are parked (for `key`, if given).
   * Rejects with a descriptive error after `timeoutMs`.
   */
  waitForPending(n: number, timeoutMs = 5000, key?: string): Promise<void> {
    return this.waitUntil(() => this.pending(key) >= n, timeoutMs, `${n} parked request(s)${key === undefined ? '' : ` with key ${JSON.stringify(key)}`}`);
  }

  /** Resolves once at least `n` chat-completions requests have been received in total (for `key`, if given). */
  waitForRequests(n: number, timeoutMs = 5000, key?: string): Promise<void> {
    return this.waitUntil(() => this.totalRequests(key) >= n, timeoutMs, `${n} received request(s)${key === undefined ? '' : ` with key ${JSON.stringify(key)}`}`);
  }

  /** Resolves once nothing is in flight (for `key`, if given), e.g. after an abort. */
  waitForIdle(timeoutMs = 5000, key?: string): Promise<void> {
    return this.waitUntil(() => this.inFlight(key) === 0, timeoutMs, `no in-flight requests${key === undefined ? '' : ` with key ${JSON.stringify(key)}`}`);
  }

  /**
   * Resolves once `predicate` holds; it is re-checked whenever the fake's state
   * changes (request received, parked, released, finished, disconnected).
   */
  waitUntil(predicate: () => boolean, timeoutMs = 5000, description = 'condition'): Promise<void> {
    if (predicate()) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error(`fake-llm: closed while waiting for ${description}`));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        check: predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new Error(`fake-llm: timed out after ${timeoutMs}ms waiting for ${description}; ${this.describeState()}`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /**
   * Gives the event loop (and the loopback network) a chance to deliver anything
   * already on its way: a few `setImmediate` rounds around a short sleep. Use it
   * before asserting that something did *not* happen.
   */
  async settle(ms = 25): Promise<void> {
    const immediates = async (): Promise<void> => {
      for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
    };
    await immediates();
    await new Promise<void>((r) => setTimeout(r, ms));
    await immediates();
  }

  /** Clears recorded requests, queued replies, handler errors and max-in-flight counters; restores the default handler. Does not touch parked/in-flight requests. */
  reset(): void {
    this.requests.length = 0;
    this.queue.length = 0;
    this.handlerErrors.length = 0;
    this.maxByKey.clear();
    for (const [k, v] of this.inFlightByKey) this.maxByKey.set(k, v);
    this.maxTotal = this.inFlightTotal;
    this.handler = () => ({ content: 'ok' });
  }

  /** Stops the server, dropping parked/hanging requests (their clients see a connection error). Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.holdRequests = false;
    for (const p of this.parked.splice(0)) p.release('drop');
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new Error('fake-llm: closed while waiting'));
    }
    this.waiters.clear();
    this.closing = new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return this.closing;
  }

  // ----- internals ---------------------------------------------------------

  private describeState(): string {
    const keys = [...new Set([...this.inFlightByKey.keys(), ...this.requests.map((r) => r.key)])];
    const perKey = keys.map((k) => `${JSON.stringify(k)}: parked ${this.pending(k)}, in flight ${this.inFlight(k)}, received ${this.totalRequests(k)}`).join('; ');
    return `currently parked ${this.pending()}, in flight ${this.inFlight()}, received ${this.totalRequests()}${perKey ? ` (${perKey})` : ''}`;
  }

  private notify(): void {
    for (const w of [...this.waiters]) {
      let ok: boolean;
      try {
        ok = w.check();
      } catch (err) {
        this.waiters.delete(w);
        clearTimeout(w.timer);
        w.reject(err instanceof Error ? err : new Error(String(err)));
        continue;
      }
      if (ok) {
        this.waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve();
      }
    }
  }

  private enter(key: string): () => void {
    const now = (this.inFlightByKey.get(key) ?? 0) + 1;
    this.inFlightByKey.set(key, now);
    this.maxByKey.set(key, Math.max(this.maxByKey.get(key) ?? 0, now));
    this.inFlightTotal++;
    this.maxTotal = Math.max(this.maxTotal, this.inFlightTotal);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.inFlightByKey.set(key, (this.inFlightByKey.get(key) ?? 1) - 1);
      this.inFlightTotal--;
      this.notify();
    };
  }

  /** @internal Request entry point. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname.replace(/\/+$/, '');
    if (req.method === 'GET' && path === '/v1/models') {
      req.resume();
      sendJson(res, 200, { object: 'list', data: this.models.map((id) => this.modelObject(id)) });
      return;
    }
    if (req.method === 'GET' && path.startsWith('/v1/models/')) {
      req.resume();
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      if (this.models.includes(id)) sendJson(res, 200, this.modelObject(id));
      else sendError(res, 404, `The model '${id}' does not exist`, 'invalid_request_error', 'model_not_found');
      return;
    }
    if (path === '/v1/chat/completions') {
      if (req.method !== 'POST') {
        req.resume();
        sendError(res, 405, `Method ${req.method ?? ''} not allowed on ${path}`);
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void this.handleChat(Buffer.concat(chunks).toString('utf8'), req, res).catch((err: unknown) => {
          const error = err instanceof Error ? err : new Error(String(err));
          this.handlerErrors.push(error);
          sendError(res, 500, `fake-llm internal error: ${error.message}`, 'server_error');
        });
      });
      return;
    }
    req.resume();
    sendError(res, 404, `Unknown route ${req.method ?? ''} ${url.pathname}`, 'invalid_request_error', 'unknown_url');
  }

  private modelObject(id: string): Record<string, unknown> {
    return { id, object: 'model', created: 1700000000, owned_by: 'fake-llm' };
  }

  private async handleChat(raw: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      sendError(res, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error');
      return;
    }
    if (!isObject(parsed)) {
      sendError(res, 400, 'Request body must be a JSON object.', 'invalid_request_error');
      return;
    }
    const body = parsed as FakeChatBody;
    const index = this.requests.length;
    const fakeReq = buildFakeRequest(body, req.headers, index);
    const key = this.classify(fakeReq);
    this.requests.push({ body, headers: req.headers, receivedAt: Date.now(), key, index });

    if (body.stream === true) {
      this.notify();
      sendError(res, 400, 'fake-llm does not support streaming (stream: true)', 'invalid_request_error', 'unsupported_parameter');
      return;
    }
    if (typeof body.model !== 'string' || !Array.isArray(body.messages)) {
      this.notify();
      sendError(res, 400, 'Request must include a string `model` and a `messages` array.', 'invalid_request_error', 'missing_required_parameter');
      return;
    }

    const leave = this.enter(key);
    if (res.destroyed || req.socket.destroyed) {
      // The client went away before we could listen for 'close'.
      leave();
      return;
    }
    let disconnected = false;
    let dropPark: (() => void) | undefined;
    res.once('close', () => {
      if (!res.writableFinished) {
        disconnected = true;
        dropPark?.();
      }
      leave();
    });
    this.notify();

    if (this.holdRequests && !disconnected) {
      const how = await new Promise<'release' | 'drop'>((resolve) => {
        const entry: Parked = { key, release: resolve };
        this.parked.push(entry);
        dropPark = () => {
          const i = this.parked.indexOf(entry);
          if (i >= 0) this.parked.splice(i, 1);
          resolve('drop');
          this.notify();
        };
        this.notify();
      });
      dropPark = undefined;
      if (how === 'drop' || disconnected) return;
    }
    if (disconnected || res.destroyed) return;

    let reply: unknown;
    const queued = this.queue.shift();
    if (queued !== undefined) {
      reply = queued;
    } else {
      try {
        reply = await this.handler(fakeReq);
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        this.handlerErrors.push(error);
        leave();
        sendError(res, 500, `fake-llm handler threw: ${error.message}`, 'server_error');
        return;
      }
    }
    if (disconnected || res.destroyed) return;

    const problem = checkReply(reply);
    if (problem !== undefined) {
      this.handlerErrors.push(new Error(`fake-llm: invalid reply: ${problem}`));
      leave();
      sendError(res, 500, `fake-llm: invalid reply: ${problem}`, 'server_error');
      return;
    }
    const valid = reply as FakeReply;
    if ('hang' in valid) return; // stays in flight until the client goes away or close()
    const requestId = `req_fake_${index}`;
    if ('error' in valid) {
      const e = valid.error;
      // Stop counting before the bytes leave, so a client reacting to the
      // response can never observe this request as still in flight.
      leave();
      sendError(res, e.status, e.message, e.type, e.code, { 'x-request-id': requestId, ...e.headers });
      return;
    }
    const completion = this.buildCompletion(body, valid);
    leave();
    sendJson(res, 200, completion, { 'x-request-id': requestId });
  }

  private buildCompletion(body: FakeChatBody, reply: FakeContentReply | FakeToolCallsReply): Record<string, unknown> {
    const promptTokens = estimateTokens(JSON.stringify(body.messages ?? []) + JSON.stringify(body.tools ?? []));
    let message: Record<string, unknown>;
    let finishReason: string;
    let completionText: string;
    if ('toolCalls' in reply && reply.toolCalls.length > 0) {
      const toolCalls = reply.toolCalls.map((tc) => ({
        id: tc.id ?? `call_fake_${++this.toolCallCounter}`,
        type: 'function',
        function: { name: tc.name, arguments: typeof tc.arguments === 'string' ? tc.arguments : JSON.stringify(tc.arguments) },
      }));
      message = { role: 'assistant', content: reply.content ?? null, refusal: null, tool_calls: toolCalls };
      finishReason = reply.finishReason ?? 'tool_calls';
      completionText = (reply.content ?? '') + toolCalls.map((t) => t.function.name + t.function.arguments).join('');
    } else {
      const content = reply.content ?? '';
      message = { role: 'assistant', content, refusal: null };
      finishReason = reply.finishReason ?? 'stop';
      completionText = content;
    }
    const completionTokens = estimateTokens(completionText);
    return {
      id: `chatcmpl-fake${++this.completionCounter}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }],
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
      system_fingerprint: 'fp_fake',
    };
  }
}

/**
 * Starts a fake OpenAI-compatible server on `127.0.0.1` (random port).
 * Always `await fake.close()` when done (e.g. in `after`/`t.after`).
 */
export async function startFakeLlm(options: FakeLlmOptions = {}): Promise<FakeLlm> {
  let fake: FakeLlm | undefined;
  const server = createServer((req, res) => {
    if (!fake) {
      res.writeHead(503).end();
      return;
    }
    fake.handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  fake = new FakeLlm(server, port, options);
  return fake;
}
