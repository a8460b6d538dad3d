/**
 * Slack source strings and message ids (DESIGN.md section 3). Pure.
 *
 * A source names one conversation: `platform-slack:<user>:<channel>:<thread_ts>`,
 * where thread_ts is the thread the replies belong in (the thread of a
 * mention in a thread, else the mentioning message itself, which then starts
 * the thread). So every thread is its own session.
 */

/** Prefix of every Slack source string. */
export const SLACK_SOURCE_PREFIX = 'platform-slack:';

/** Where a Slack source's replies go. */
export interface SlackTarget {
  userId: string;
  channel: string;
  /** The thread to reply in; absent for a source without one (e.g. a `default_delivery_source`). */
  threadTs?: string;
}

/** `platform-slack:<user>:<channel>:<thread_ts>`. */
export function slackSource(userId: string, channel: string, threadTs: string): string {
  return `${SLACK_SOURCE_PREFIX}${userId}:${channel}:${threadTs}`;
}

/**
 * The inbound event id of a Slack message: `slack:<channel>:<ts>`. A message
 * is one `(channel, ts)` whichever event carried it, so the `app_mention`
 * and the `message` copy of one mention, and every Slack retry of either,
 * share it; the server's journal answers it once.
 */
export function slackMessageId(channel: string, ts: string): string {
  return `slack:${channel}:${ts}`;
}

/**
 * Parses a Slack source. Also takes `platform-slack:<user>:<channel>` (no
 * thread: post at the top level), which is what an operator would write as
 * `default_delivery_source`. Null if it is not a well-formed Slack source.
 */
export function parseSlackSource(source: string): SlackTarget | null {
  if (!source.startsWith(SLACK_SOURCE_PREFIX)) return null;
  const [userId, channel, threadTs, ...rest] = source.slice(SLACK_SOURCE_PREFIX.length).split(':');
  if (!userId || !channel || rest.length > 0) return null;
  return { userId, channel, ...(threadTs && { threadTs }) };
}
