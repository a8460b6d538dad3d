import type { PublicStatus } from './frames.js';

/**
 * Pushes the status report to web clients when it changes. It checks on
 * every `nudge()` (the adapter nudges on bus events, so queue changes show at
 * once) and on a slow poll, which catches what has no event (a reload that
 * changed a limit). The poll runs only while a client is connected: an idle
 * server does no work.
 */
export class StatusFeed {
  readonly #read: () => PublicStatus;
  readonly #publish: (report: PublicStatus) => void;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | null = null;
  #nudged = false;
  #lastKey = '';

  constructor(options: { read: () => PublicStatus; publish: (report: PublicStatus) => void; intervalMs?: number }) {
    this.#read = options.read;
    this.#publish = options.publish;
    this.#intervalMs = options.intervalMs ?? 250;
  }

  /** Starts polling (a client connected); idempotent. */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.#check(), this.#intervalMs);
    this.#timer.unref();
  }

  /** Stops polling (no client left); the next start re-sends from scratch. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#lastKey = '';
  }

  /**
   * Something happened: check soon. Coalesced to one check per event-loop
   * turn, after the worker and limiter have finished reacting to the event.
   */
  nudge(): void {
    if (!this.#timer || this.#nudged) return;
    this.#nudged = true;
    setImmediate(() => {
      this.#nudged = false;
      if (this.#timer) this.#check();
    });
  }

  #check(): void {
    const report = this.#read();
    const key = changeKey(report);
    if (key === this.#lastKey) return;
    this.#lastKey = key;
    this.#publish(report);
  }
}

/**
 * What counts as a change: the limits and counts, not the clock
 * (`oldest_wait_s` ticks on its own and would make every poll a change).
 */
export function changeKey(report: PublicStatus): string {
  const agents = Object.entries(report.agents).map(([id, a]) => [id, a.limit, a.running, a.queued]);
  return JSON.stringify([agents, report.total]);
}
