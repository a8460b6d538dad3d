import { WebSocket } from 'ws';
import type { ServerFrame } from './frames.js';

/**
 * The open web chat sockets and the sources each one listens to. A frame
 * about a source goes only to the sockets subscribed to that source, so a
 * client never sees another client's conversation; `status` frames go to all.
 */
export class SocketHub {
  readonly #sockets = new Set<WebSocket>();
  readonly #bySource = new Map<string, Set<WebSocket>>();
  readonly #sourcesOf = new Map<WebSocket, Set<string>>();

  /** Number of open sockets. */
  get size(): number {
    return this.#sockets.size;
  }

  add(socket: WebSocket): void {
    this.#sockets.add(socket);
    this.#sourcesOf.set(socket, new Set());
  }

  /** Forgets a closed socket and its subscriptions. */
  remove(socket: WebSocket): void {
    this.#sockets.delete(socket);
    for (const source of this.#sourcesOf.get(socket) ?? []) {
      const set = this.#bySource.get(source);
      set?.delete(socket);
      if (set?.size === 0) this.#bySource.delete(source);
    }
    this.#sourcesOf.delete(socket);
  }

  /** Lets `socket` receive the frames of `source`. */
  subscribe(socket: WebSocket, source: string): void {
    const sources = this.#sourcesOf.get(socket);
    if (!sources) return; // closed meanwhile
    sources.add(source);
    let set = this.#bySource.get(source);
    if (!set) this.#bySource.set(source, (set = new Set()));
    set.add(socket);
  }

  /**
   * Sends a frame to every open socket subscribed to `source` and resolves
   * with how many took it (written to the socket without error).
   */
  async sendTo(source: string, frame: ServerFrame): Promise<number> {
    const targets = [...(this.#bySource.get(source) ?? [])].filter((s) => s.readyState === WebSocket.OPEN);
    const results = await Promise.allSettled(targets.map((socket) => sendFrame(socket, frame)));
    return results.filter((r) => r.status === 'fulfilled').length;
  }

  /** Sends a frame to every open socket, best effort. */
  broadcast(frame: ServerFrame): void {
    const text = JSON.stringify(frame);
    for (const socket of this.#sockets) if (socket.readyState === WebSocket.OPEN) socket.send(text, noop);
  }

  /** Closes every socket (going away) and forgets them. */
  closeAll(reason: string): void {
    for (const socket of this.#sockets) socket.close(1001, reason);
    for (const socket of [...this.#sockets]) this.remove(socket);
  }
}

/** Sends one frame; resolves once it was handed to the socket, rejects if that failed. */
export function sendFrame(socket: WebSocket, frame: ServerFrame): Promise<void> {
  return new Promise((resolve, reject) => socket.send(JSON.stringify(frame), (err) => (err ? reject(err) : resolve())));
}

function noop(): void {}
