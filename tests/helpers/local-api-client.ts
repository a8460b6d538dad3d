/**
 * Test helpers for the local API: a WebSocket client that records every frame
 * and lets a test await the one it expects, and a small condition poller.
 */
import { WebSocket } from 'ws';
import type { ServerFrame } from '../../adapters/web/frames.js';

/** A `/ws` client that keeps every frame it received, in order. */
export class WsTestClient {
  readonly frames: ServerFrame[] = [];
  readonly #socket: WebSocket;
  readonly #waiters = new Set<() => void>();
  readonly #closed: Promise<void>;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)) as ServerFrame);
      for (const wake of [...this.#waiters]) wake();
    });
    this.#closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /** Connects to `<baseUrl>/ws` and resolves once open. */
  static async connect(baseUrl: string, headers: Record<string, string> = {}): Promise<WsTestClient> {
    const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/ws`, { headers });
    const client = new WsTestClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return client;
  }

  /** Sends an object as JSON, or a string as is. */
  send(frame: object | string): void {
    this.#socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The frames that are not `status` broadcasts. */
  get conversation(): ServerFrame[] {
    return this.frames.filter((f) => f.type !== 'status');
  }

  /**
   * Resolves with the first frame received (so far or later) that matches;
   * rejects after `timeoutMs` listing what did arrive.
   */
  waitFor(match: (frame: ServerFrame) => boolean, description: string, timeoutMs = 5000): Promise<ServerFrame> {
    const found = () => this.frames.find(match);
    const now = found();
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const wake = () => {
        const frame = found();
        if (!frame) return;
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve(frame);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${description}; got ${JSON.stringify(this.conversation)}`));
      }, timeoutMs);
      this.#waiters.add(wake);
    });
  }

  /** Closes and resolves once the socket is closed. */
  async close(): Promise<void> {
    this.#socket.close();
    await this.#closed;
  }
}

/**
 * Resolves once `check` returns true, re-checking every 10 ms (for state
 * with no event to await, e.g. a metric); rejects after `timeoutMs`.
 */
export async function until(check: () => boolean | Promise<boolean>, description: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
