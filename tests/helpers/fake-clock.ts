import type { Clock } from '../../src/cron/clock.js';

interface FakeTimer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A manual {@link Clock} for tests: time moves only when told, and timers
 * run only from {@link FakeClock.advance} or {@link FakeClock.runDue}, so no
 * test waits for real time.
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, FakeTimer>();

  constructor(start: Date | string | number) {
    this.#now = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.#now);
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#timers.set(id, { id, at: this.#now + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Moves time forward by `ms`, running each timer due on the way at its own time, in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (let timer = this.#earliest(); timer && timer.at <= target; timer = this.#earliest()) {
      this.#now = Math.max(this.#now, timer.at);
      this.#timers.delete(timer.id);
      timer.fn();
    }
    this.#now = target;
  }

  /** Moves time forward without running any timer (a stalled event loop). */
  jump(ms: number): void {
    this.#now += ms;
  }

  /** Runs the timers due by now (late, after a {@link FakeClock.jump}). */
  runDue(): void {
    this.advance(0);
  }

  /** When the next timer is due, or null if none is set. */
  nextTimerAt(): Date | null {
    const timer = this.#earliest();
    return timer ? new Date(timer.at) : null;
  }

  /** How many timers are set. */
  get pending(): number {
    return this.#timers.size;
  }

  #earliest(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const timer of this.#timers.values()) if (!best || timer.at < best.at || (timer.at === best.at && timer.id < best.id)) best = timer;
    return best;
  }
}
