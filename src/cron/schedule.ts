import { CronExpressionParser } from 'cron-parser';

/** One minute in milliseconds. */
export const MINUTE_MS = 60_000;

/**
 * The time zone cron schedules are read in: UTC. `"0 9 * * 1-5"` means
 * 09:00 UTC on weekdays, whatever the host's zone, so a job fires at the same
 * moment on every machine and DST changes never skip or repeat a run.
 */
export const CRON_TIME_ZONE = 'UTC';

/** `ms` rounded down to the start of its minute. */
export function floorMinute(ms: number): number {
  return Math.floor(ms / MINUTE_MS) * MINUTE_MS;
}

/** `ms` rounded up to a minute boundary (itself when already on one). */
export function ceilMinute(ms: number): number {
  return Math.ceil(ms / MINUTE_MS) * MINUTE_MS;
}

/**
 * True when the 5-field cron `schedule` fires in the minute holding `minute`
 * (seconds and milliseconds are ignored). Pure: parsed by cron-parser with
 * standard semantics, e.g. when both day-of-month and day-of-week are
 * restricted, either one matching is enough; `L` and `#` are supported.
 *
 * @param timeZone IANA zone the fields are read in (default {@link CRON_TIME_ZONE}).
 * @throws Error if `schedule` is not a valid cron expression or the zone is unknown.
 */
export function cronMatches(schedule: string, minute: Date, timeZone: string = CRON_TIME_ZONE): boolean {
  const expression = CronExpressionParser.parse(schedule, { tz: timeZone });
  return expression.includesDate(new Date(floorMinute(minute.getTime())));
}

/**
 * Inbound message id of the run of cron job `cronId` for `minute`:
 * `cron:<id>:<minute ISO, UTC>`. The same job and minute always give the same
 * id, so the server's journal accepts a run once (idempotent).
 */
export function cronRunId(cronId: string, minute: Date): string {
  return `cron:${cronId}:${new Date(floorMinute(minute.getTime())).toISOString()}`;
}

/** Cron ids are folder names: lowercase letters, digits, `-` and `_` (no `:`). */
const RUN_ID = /^cron:([a-z0-9][a-z0-9_-]*):(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)$/;

/** Reverse of {@link cronRunId}: the job id and minute, or null for another kind of id. */
export function parseCronRunId(id: string): { cronId: string; minute: Date } | null {
  const match = RUN_ID.exec(id);
  if (!match?.[1] || !match[2]) return null;
  return { cronId: match[1], minute: new Date(match[2]) };
}
