/**
 * Time as the cron worker sees it: the current time and one-shot timers.
 * Injectable so tests can drive the worker with a fake clock instead of
 * waiting for real minutes.
 */
export interface Clock {
  /** The current time. */
  now(): Date;
  /** Calls `fn` once, `ms` milliseconds from now; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer made by {@link Clock.setTimeout} (a no-op if it already ran). */
  clearTimeout(handle: unknown): void;
}

/**
 * The real clock: `Date` and Node's timers. Timers are `unref`'d, so a
 * pending cron check never keeps a finished process alive (the server's
 * sockets do that).
 */
export const systemClock: Clock = {
  now: () => new Date(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
