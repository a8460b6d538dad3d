import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { DeferredDeliveryError, type ChannelAdapter, type Delivery, type InboundSink } from '../../src/channels/types.js';
import type { BrineServer } from '../../src/server/brine-server.js';
import type { Logger } from '../../src/logger.js';
import { inboundMessage, type OutboundEvent } from '../../src/events.js';
import { BrineError, describeError } from '../../src/errors.js';
import { parseClientFrame, publicStatus, WS_SOURCE_PREFIX, type ServerFrame } from './frames.js';
import { SocketHub, sendFrame } from './socket-hub.js';
import { StatusFeed } from './status-feed.js';
import { handleHttp, reply } from './http-routes.js';
import { refusal } from './request-guard.js';

/** Where the local API listens (config `api`). Port 0 picks a free port. */
export interface LocalApiOptions {
  host: string;
  port: number;
}

/**
 * The local HTTP/WebSocket API with the web chat (DESIGN.md section 5), as
 * the `web` channel: it owns the `platform-ws:` sources.
 */
export interface LocalApi extends ChannelAdapter {
  /** Base URL of the API and web chat, e.g. `http://127.0.0.1:8787` (real port if 0 was asked); '' until started. */
  readonly url: string;
}

/** Largest client frame accepted; a chat message is far below it. */
const MAX_FRAME_BYTES = 1024 * 1024;
/** How long stop() lets clients answer the close handshake before cutting them off. */
const CLOSE_GRACE_MS = 500;

/** Creates the local API channel; {@link ChannelAdapter.start} opens the port. */
export function createLocalApi(server: BrineServer, options: LocalApiOptions): LocalApi {
  return new WebChannel(server, options);
}

/**
 * `GET /`, `/health`, `/status`, `/metrics`, `/agents` and the `/ws`
 * WebSocket. A client message goes through the server's sink like any
 * platform message; replies come back through the durable delivery worker
 * ({@link send}), queue notices through {@link notify}.
 */
class WebChannel implements LocalApi {
  readonly name = 'web';
  readonly #server: BrineServer;
  readonly #options: LocalApiOptions;
  readonly #hub = new SocketHub();
  readonly #feed: StatusFeed;
  #http: Server | null = null;
  #wss: WebSocketServer | null = null;
  #logger: Logger | null = null;
  #unsubscribe: (() => void)[] = [];
  #url = '';

  constructor(server: BrineServer, options: LocalApiOptions) {
    this.#server = server;
    this.#options = options;
    this.#feed = new StatusFeed({
      read: () => publicStatus(server.status()),
      publish: (report) => this.#hub.broadcast({ type: 'status', source: null, session_id: null, content: report }),
    });
  }

  get url(): string {
    return this.#url;
  }

  owns(source: string): boolean {
    return source.startsWith(WS_SOURCE_PREFIX);
  }

  async start(sink: InboundSink, logger: Logger): Promise<void> {
    this.#logger = logger;
    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
    const http = createServer((req, res) => {
      const refused = refusal(req.headers, this.#options.host, false);
      if (refused) return reply(res, 403, { type: 'text/plain; charset=utf-8', body: `Forbidden: ${refused}\n` });
      void handleHttp(this.#server, req, res, logger);
    });
    http.on('upgrade', (req, socket: Duplex, head: Buffer) => {
      // node:http drops its own error listener on upgrade; a reset must not crash the process.
      socket.on('error', () => socket.destroy());
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const refused = path === '/ws' ? refusal(req.headers, this.#options.host, true) : `no WebSocket at ${path}; use /ws`;
      if (refused) {
        logger.warn({ path, origin: req.headers.origin, host: req.headers.host }, `WebSocket refused: ${refused}`);
        socket.end(`HTTP/1.1 ${path === '/ws' ? '403 Forbidden' : '404 Not Found'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws, sink));
    });
    await listen(http, this.#options);
    this.#http = http;
    this.#wss = wss;
    this.#url = urlOf(this.#options.host, (http.address() as AddressInfo).port);

    const { bus } = this.#server.runtime;
    this.#unsubscribe = [
      bus.on('inbound', () => this.#feed.nudge()),
      bus.on('outbound', () => this.#feed.nudge()),
    ];
    logger.info({ url: this.#url }, 'local API and web chat listening');
  }

  async stop(): Promise<void> {
    for (const off of this.#unsubscribe.splice(0)) off();
    this.#feed.stop();
    const wss = this.#wss;
    const http = this.#http;
    this.#wss = null;
    this.#http = null;
    if (wss) {
      const clients = [...wss.clients];
      this.#hub.closeAll('Brine is stopping');
      await Promise.race([Promise.all(clients.map(closed)), delay(CLOSE_GRACE_MS)]);
      for (const client of clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
    if (http) {
      const done = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
      await done;
    }
  }

  format(text: string): string[] {
    // The web has no length limit: the whole answer is one frame.
    return [text];
  }

  async send(delivery: Delivery, index: number): Promise<void> {
    const frame: ServerFrame = {
      type: delivery.kind === 'error' ? 'error' : 'reply',
      source: delivery.source,
      session_id: delivery.sessionId ?? null,
      content: delivery.chunks[index] ?? '',
      ...(delivery.agentId && { agent: delivery.agentId }),
      ...(delivery.replyTo && { reply_to: delivery.replyTo }),
    };
    const took = await this.#hub.sendTo(delivery.source, frame);
    // Nobody listening: the reply waits in the outbox; a client that
    // (re)connects for this source kicks it (see #onFrame).
    if (took === 0) throw new DeferredDeliveryError(`no web chat client is connected for ${delivery.source}`);
  }

  async notify(event: OutboundEvent): Promise<void> {
    if (event.type !== 'queued' && event.type !== 'started') return;
    await this.#hub.sendTo(event.source, {
      type: event.type,
      source: event.source,
      session_id: event.sessionId ?? null,
      content: event.content || (event.type === 'started' ? 'working' : ''),
      ...(event.position !== undefined && { position: event.position }),
      ...(event.agentId && { agent: event.agentId }),
      reply_to: event.replyTo,
    });
  }

  #onConnection(ws: WebSocket, sink: InboundSink): void {
    this.#hub.add(ws);
    this.#feed.start();
    // A new client sees the current figures at once, not at the next change.
    void sendFrame(ws, { type: 'status', source: null, session_id: null, content: publicStatus(this.#server.status()) }).catch(() => {});
    ws.on('message', (data, isBinary) => void this.#onFrame(ws, data, isBinary, sink));
    ws.on('error', (err) => this.#logger?.debug({ err: describeError(err) }, 'web chat socket error'));
    ws.on('close', () => {
      this.#hub.remove(ws);
      if (this.#hub.size === 0) this.#feed.stop();
    });
  }

  async #onFrame(ws: WebSocket, data: RawData, isBinary: boolean, sink: InboundSink): Promise<void> {
    const fail = (content: string, source: string | null = null) =>
      sendFrame(ws, { type: 'error', source, session_id: null, content }).catch(() => {});
    if (isBinary) return fail('Binary frames are not understood; send JSON text: {"source": "<client id>", "content": "<text>"}.');
    const parsed = parseClientFrame(rawText(data), [...this.#server.runtime.snapshot().agents.keys()]);
    if (!parsed.ok) return fail(parsed.error, parsed.source ?? null);
    const { frame } = parsed;
    this.#hub.subscribe(ws, frame.source);
    // Replies that waited for this client (it was offline) go out now, before new ones.
    void this.#server.delivery.kick(frame.source);
    if (frame.type === 'hello') return;
    const clientId = frame.source.slice(WS_SOURCE_PREFIX.length);
    const message = inboundMessage({
      source: frame.source,
      content: frame.content,
      author: { id: clientId },
      ...(frame.agent !== undefined && { agentId: frame.agent }),
    });
    try {
      await sink.accept(message);
    } catch (err) {
      const text = err instanceof BrineError ? err.message : `The message was not accepted: ${describeError(err)}`;
      return fail(text, frame.source);
    }
  }


}

/** Listens, turning "address in use" into an error that says what to change. */
function listen(http: Server, { host, port }: LocalApiOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const hint = err.code === 'EADDRINUSE' ? `; another program uses it: set api.port in config.user.yaml` : '';
      reject(new BrineError('api_listen_failed', `The local API cannot listen on ${host}:${port} (${err.code ?? err.message})${hint}.`, { cause: err }));
    };
    http.once('error', onError);
    http.listen(port, host, () => {
      http.off('error', onError);
      resolve();
    });
  });
}

/** The URL to show a user: a wildcard address is reached through loopback. */
function urlOf(host: string, port: number): string {
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return data instanceof ArrayBuffer ? Buffer.from(data).toString('utf8') : data.toString('utf8');
}

function closed(ws: WebSocket): Promise<void> {
  return ws.readyState === ws.CLOSED ? Promise.resolve() : new Promise((resolve) => ws.once('close', () => resolve()));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
