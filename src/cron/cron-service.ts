import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError } from '../errors.js';
import { inboundMessage, type InboundMessage, type OutboundEvent } from '../events.js';
import type { EventBus } from '../bus.js';
import type { Logger } from '../logger.js';
import type { InboundSink } from '../channels/types.js';
import type { InboundJournal } from '../durability/types.js';
import type { ServerService } from '../server/brine-server.js';
import type { CronDef } from '../workspace/definitions.js';
import type { WorkspaceSnapshot } from '../workspace/workspace.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { systemClock, type Clock } from './clock.js';
import { CRON_TIME_ZONE, ceilMinute, cronMatches, cronRunId, floorMinute, MINUTE_MS, parseCronRunId } from './schedule.js';

/**
 * What the cron worker needs of the server; {@link BrineServer} has all of it.
 * Narrow so the worker can be tested or hosted without a whole server.
 */
export interface CronHost {
  readonly runtime: { snapshot(): WorkspaceSnapshot; readonly bus: Pick<EventBus, 'on'> };
  /** Where runs are handed in: journaled (durable), then published on the bus. */
  readonly sink: InboundSink;
  /** Read on start, to find one-off runs still waiting from before a restart. */
  readonly journal: Pick<InboundJournal, 'pending'>;
  readonly logger: Logger;
  /** Reloads the workspace (after a one-off job's folder was removed). */
  reload(): Promise<void>;
}

/** Options of {@link CronService}. */
export interface CronServiceOptions {
  server: CronHost;
  /** Time and timers (default: the real clock). Tests pass a fake. */
  clock?: Clock;
  /** Zone schedules are read in (default {@link CRON_TIME_ZONE}, UTC). */
  timeZone?: string;
  /**
   * Most minutes checked after a stall (default 60). A longer gap (the
   * machine slept) checks only its last `maxCatchUpMinutes` minutes, with a
   * warning naming the skipped range, instead of flooding the agents with
   * hundreds of runs of a frequent job.
   */
  maxCatchUpMinutes?: number;
}

/** Persisted note that a one-off job was handed in; see {@link CronService}. */
interface OneOffRecord {
  cronId: string;
  inboundId: string;
  firedAt: string;
}

/** Where one-off records live, under the workspace (never watched, never committed). */
const RECORDS_DIR = join('.events', 'cron');

/**
 * The cron worker (`crons/<id>/CRON.md`), a {@link ServerService} named `cron`.
 *
 * Timing: one timer at a time, always set from the clock to the next minute
 * boundary (never "60 s after the last check"), so it does not drift. Each
 * check looks at every minute since the last one checked, in order, so a
 * stalled process (a blocked event loop, a late timer) catches up each missed
 * minute exactly once; only minutes from this process run count (a minute
 * before {@link CronService.start} is never replayed; a start exactly on a
 * boundary checks that minute). A clock set back waits until time passes the
 * last minute checked, so no minute runs twice.
 *
 * Schedules are read in UTC (see {@link CRON_TIME_ZONE}) from the snapshot
 * current at that minute, so CRON.md edits apply after the hot reload.
 *
 * A run is `inboundMessage({ id: 'cron:<id>:<minute ISO>', source:
 * 'cron:<id>', content: <prompt>, agentId: <agent> })` handed to the server's
 * sink: journaled before it runs (durable across restarts) and idempotent (the
 * journal drops a second copy of the same id).
 *
 * One-off jobs (`one_off: true`) run once: after the hand-in no further run
 * starts, and once the run's final `reply` or `error` event is on the bus
 * (not a `shutdown` cancel, which is resumed on the next start) the folder
 * `crons/<id>/` is removed and the workspace reloaded. A note in
 * `.events/cron/<id>.json` bridges restarts: a run still in the journal is
 * awaited (the server resumes it), and a run answered before the folder was
 * removed gets its folder removed on start.
 *
 * Failures (an invalid schedule, the sink refusing during shutdown, a
 * filesystem error) are logged, never thrown out of a timer.
 */
export class CronService implements ServerService {
  readonly name = 'cron';
  readonly #host: CronHost;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #timeZone: string;
  readonly #maxCatchUp: number;
  /** One-off jobs handed in and not yet removed: cron id -> inbound id of its run. */
  readonly #fired = new Map<string, string>();
  /** Schedules already reported as invalid (logged once, not every minute). */
  readonly #badSchedules = new Set<string>();
  /** Record writes and folder removals, in order. */
  #ops: Promise<void> = Promise.resolve();
  readonly #background = new Set<Promise<void>>();
  #timer: unknown = null;
  #check: Promise<void> | null = null;
  /** Start of the last minute checked (ms); minutes after it are due. */
  #lastChecked = 0;
  #running = false;

  constructor(options: CronServiceOptions) {
    this.#host = options.server;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.server.logger.child({ service: 'cron' });
    this.#timeZone = options.timeZone ?? CRON_TIME_ZONE;
    this.#maxCatchUp = Math.max(1, Math.floor(options.maxCatchUpMinutes ?? 60));
    // Subscribed now, before any run can finish, so no final event is missed.
    const { bus } = this.#host.runtime;
    bus.on('inbound', (message) => this.#onInbound(message));
    bus.on('outbound', (event) => this.#onOutbound(event));
  }

  /** Starts checking at the next minute boundary; first settles one-off jobs left from before a restart. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#lastChecked = ceilMinute(this.#clock.now().getTime()) - MINUTE_MS;
    try {
      await this.#resumeOneOffs();
    } catch (err) {
      this.#logger.error({ err: describeError(err) }, 'could not read the state of one-off cron jobs');
    }
    this.#schedule();
  }

  /** Clears the timer and waits for a check in progress. Runs already handed in are the server's. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    await this.#check;
  }

  /** Resolves when no check, record write or one-off removal is in progress (tests). */
  async idle(): Promise<void> {
    while (this.#check || this.#background.size > 0) {
      await this.#check;
      await Promise.allSettled([...this.#background]);
    }
  }

  #schedule(): void {
    if (!this.#running) return;
    const next = this.#lastChecked + MINUTE_MS;
    // At most a minute, so a clock set back is re-read every minute.
    const delay = Math.min(MINUTE_MS, Math.max(0, next - this.#clock.now().getTime()));
    this.#timer = this.#clock.setTimeout(() => this.#onTimer(), delay);
  }

  #onTimer(): void {
    this.#timer = null;
    if (!this.#running) return;
    const check = this.#checkDue()
      .catch((err: unknown) => this.#logger.error({ err: describeError(err) }, 'cron check failed'))
      .finally(() => {
        this.#check = null;
        this.#schedule();
      });
    this.#check = check;
  }

  /** Checks every minute from the last one checked up to the current one. */
  async #checkDue(): Promise<void> {
    const current = floorMinute(this.#clock.now().getTime());
    if (current <= this.#lastChecked) return; // early timer or clock set back
    let from = this.#lastChecked + MINUTE_MS;
    const missed = (current - from) / MINUTE_MS + 1;
    if (missed > this.#maxCatchUp) {
      const resume = current - (this.#maxCatchUp - 1) * MINUTE_MS;
      this.#logger.warn(
        { from: new Date(from).toISOString(), to: new Date(resume - MINUTE_MS).toISOString(), minutes: missed - this.#maxCatchUp },
        'cron was stalled too long (the machine slept?); these minutes are skipped',
      );
      from = resume;
    }
    for (let minute = from; minute <= current; minute += MINUTE_MS) {
      if (!this.#running) return;
      await this.#checkMinute(new Date(minute));
      this.#lastChecked = minute;
    }
  }

  async #checkMinute(minute: Date): Promise<void> {
    const snapshot = this.#host.runtime.snapshot();
    const crons = [...snapshot.crons.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const cron of crons) {
      if (this.#matches(cron, minute)) await this.#fire(snapshot.root, cron, minute);
    }
  }

  #matches(cron: CronDef, minute: Date): boolean {
    try {
      return cronMatches(cron.schedule, minute, this.#timeZone);
    } catch (err) {
      const key = `${cron.id}\n${cron.schedule}`;
      if (!this.#badSchedules.has(key)) {
        this.#badSchedules.add(key);
        this.#logger.error({ cron: cron.id, file: cron.file, schedule: cron.schedule, err: describeError(err) }, 'cron job has an invalid schedule; it never runs until fixed');
      }
      return false;
    }
  }

  /** Hands one run to the server. */
  async #fire(root: string, cron: CronDef, minute: Date): Promise<void> {
    if (cron.oneOff && this.#fired.has(cron.id)) return; // ran already; its folder goes when the run ends
    // The snapshot may be older than the disk (a job just deleted, a one-off just removed).
    if (!(await exists(join(root, cron.file)))) {
      this.#logger.debug({ cron: cron.id }, 'cron job deleted since the last reload; not run');
      return;
    }
    const message = inboundMessage({
      id: cronRunId(cron.id, minute),
      source: `cron:${cron.id}`,
      content: cron.prompt,
      agentId: cron.agent,
      receivedAt: this.#clock.now().toISOString(),
    });
    if (cron.oneOff) this.#fired.set(cron.id, message.id);
    try {
      if (!(await this.#host.sink.accept(message))) {
        this.#logger.debug({ cron: cron.id, id: message.id }, 'cron run already accepted; not run again');
        return;
      }
    } catch (err) {
      if (this.#fired.get(cron.id) === message.id) this.#fired.delete(cron.id);
      this.#logger.error({ cron: cron.id, id: message.id, err: describeError(err) }, 'cron run not started');
      return;
    }
    this.#logger.info({ cron: cron.id, agent: cron.agent, id: message.id }, 'cron job started');
    if (cron.oneOff) {
      const record: OneOffRecord = { cronId: cron.id, inboundId: message.id, firedAt: message.receivedAt };
      this.#enqueue(() => writeFileAtomic(this.#recordPath(root, cron.id), JSON.stringify(record)), 'could not record a one-off cron run');
    }
  }

  /** A run of a one-off job seen on the bus (also a resumed one): no second run, remove when done. */
  #onInbound(message: InboundMessage): void {
    const run = parseCronRunId(message.id);
    if (!run || message.source !== `cron:${run.cronId}`) return;
    if (this.#host.runtime.snapshot().crons.get(run.cronId)?.oneOff && !this.#fired.has(run.cronId)) {
      this.#fired.set(run.cronId, message.id);
    }
  }

  #onOutbound(event: OutboundEvent): void {
    if (event.type !== 'reply' && event.type !== 'error') return;
    // Cancelled by shutdown: still journaled, it runs again on the next start.
    if (event.type === 'error' && event.code === 'shutdown') return;
    const run = parseCronRunId(event.replyTo);
    if (!run || event.source !== `cron:${run.cronId}` || this.#fired.get(run.cronId) !== event.replyTo) return;
    const root = this.#host.runtime.snapshot().root;
    this.#enqueue(() => this.#removeOneOff(root, run.cronId, event.replyTo), 'could not remove a one-off cron job');
  }

  async #removeOneOff(root: string, cronId: string, inboundId: string): Promise<void> {
    if (this.#fired.get(cronId) !== inboundId) return; // already removed
    await rm(join(root, 'crons', cronId), { recursive: true, force: true });
    await rm(this.#recordPath(root, cronId), { force: true });
    this.#fired.delete(cronId);
    this.#logger.info({ cron: cronId, id: inboundId }, 'one-off cron job has run; removed its folder');
    await this.#host.reload();
  }

  /** On start: one-off runs from before a restart, still running (await them) or done (remove now). */
  async #resumeOneOffs(): Promise<void> {
    const root = this.#host.runtime.snapshot().root;
    const pending = new Set((await this.#host.journal.pending()).map((m) => m.id));
    const snapshot = this.#host.runtime.snapshot();
    for (const id of pending) {
      const run = parseCronRunId(id);
      if (run && snapshot.crons.get(run.cronId)?.oneOff && !this.#fired.has(run.cronId)) this.#fired.set(run.cronId, id);
    }
    let files: string[];
    try {
      files = await readdir(join(root, RECORDS_DIR));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const file of files.filter((f) => f.endsWith('.json') && !f.startsWith('.')).sort()) {
      let record: OneOffRecord;
      try {
        record = JSON.parse(await readFile(join(root, RECORDS_DIR, file), 'utf8')) as OneOffRecord;
        if (!parseCronRunId(record.inboundId) || `${record.cronId}.json` !== file) throw new Error('not a one-off cron record');
      } catch (err) {
        this.#logger.error({ file: join(RECORDS_DIR, file), err: describeError(err) }, 'unreadable one-off cron record ignored');
        continue;
      }
      if (!this.#fired.has(record.cronId)) this.#fired.set(record.cronId, record.inboundId);
      // Not in the journal any more: answered before the restart, so its folder can go.
      if (!pending.has(record.inboundId) && this.#fired.get(record.cronId) === record.inboundId) {
        this.#enqueue(() => this.#removeOneOff(root, record.cronId, record.inboundId), 'could not remove a one-off cron job');
      }
    }
  }

  #recordPath(root: string, cronId: string): string {
    return join(root, RECORDS_DIR, `${cronId}.json`);
  }

  /** Runs `op` after the ones before it; failures are logged. */
  #enqueue(op: () => Promise<void>, failure: string): void {
    const work = this.#ops.then(op).catch((err: unknown) => this.#logger.error({ err: describeError(err) }, failure));
    this.#ops = work;
    this.#background.add(work);
    void work.finally(() => this.#background.delete(work));
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
