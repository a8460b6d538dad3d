/**
 * "Brine is typing..." while a turn runs. Discord shows typing for about 10
 * seconds per request, so it is re-sent every ~8 s until the reply's last
 * part goes out or the turn ends; a cap stops it if neither ever comes (a
 * lost reply must not type forever).
 */

/** Timing of {@link TypingIndicators}. */
export interface TypingTiming {
  /** Re-send interval; under Discord's ~10 s lapse (default 8 s). */
  intervalMs: number;
  /** Stop after this long whatever happens (default 3 min). */
  maxMs: number;
}

export const DEFAULT_TYPING: TypingTiming = { intervalMs: 8_000, maxMs: 180_000 };

/** Typing loops, one per key (the inbound message id being answered). */
export class TypingIndicators {
  readonly #send: (channelId: string) => Promise<void>;
  readonly #onError: (err: unknown, channelId: string) => void;
  readonly #timing: TypingTiming;
  readonly #loops = new Map<string, { interval: NodeJS.Timeout; cap: NodeJS.Timeout }>();

  constructor(options: { send: (channelId: string) => Promise<void>; onError: (err: unknown, channelId: string) => void; timing?: Partial<TypingTiming> }) {
    this.#send = options.send;
    this.#onError = options.onError;
    this.#timing = { ...DEFAULT_TYPING, ...options.timing };
  }

  /** Starts typing in `channelId` for `key` now and keeps it up; a second start for the same key restarts it. */
  start(key: string, channelId: string): void {
    this.stop(key);
    const tick = () => void this.#send(channelId).catch((err: unknown) => this.#onError(err, channelId));
    // unref: a typing loop never keeps the process alive on its own.
    const interval = setInterval(tick, this.#timing.intervalMs).unref();
    const cap = setTimeout(() => this.stop(key), this.#timing.maxMs).unref();
    this.#loops.set(key, { interval, cap });
    tick();
  }

  /** Stops typing for `key` (no-op if not typing). */
  stop(key: string): void {
    const loop = this.#loops.get(key);
    if (!loop) return;
    clearInterval(loop.interval);
    clearTimeout(loop.cap);
    this.#loops.delete(key);
  }

  stopAll(): void {
    for (const key of [...this.#loops.keys()]) this.stop(key);
  }

  /** Keys typing now. */
  get active(): number {
    return this.#loops.size;
  }
}
