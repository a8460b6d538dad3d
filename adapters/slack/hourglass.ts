import type { Logger } from '../../src/logger.js';
import { slackErrorCode } from './api-errors.js';

/** The reaction shown on a message while its turn waits (⏳). */
export const HOURGLASS = 'hourglass_flowing_sand';

/** A Slack message: the channel and the ts of it. */
export interface MessageRef {
  channel: string;
  ts: string;
}

/** The two Web API calls the hourglass needs (`app.client.reactions`). */
export interface ReactionsApi {
  add(args: { channel: string; timestamp: string; name: string }): Promise<unknown>;
  remove(args: { channel: string; timestamp: string; name: string }): Promise<unknown>;
}

/** How many hourglasses are remembered; a message dropped from its queue never sees `started`. */
const MAX_TRACKED = 1_000;

/**
 * The ⏳ reaction on a message whose turn is queued (DESIGN.md section 4),
 * removed when the turn starts. Best effort: failures are logged, never
 * retried. Only messages that got an hourglass have one removed, so a turn
 * that never waited costs no API call; and the removal waits for the
 * addition (the server fires both without waiting), so they never cross.
 */
export class Hourglass {
  readonly #api: () => ReactionsApi | null;
  readonly #logger: () => Logger | null;
  /** Added (or being added) hourglasses, by message; resolves to true if one is there. */
  readonly #shown = new Map<string, Promise<boolean>>();

  constructor(api: () => ReactionsApi | null, logger: () => Logger | null) {
    this.#api = api;
    this.#logger = logger;
  }

  /** Puts the hourglass on a message (once). */
  async show(message: MessageRef): Promise<void> {
    const key = keyOf(message);
    if (this.#shown.has(key)) return;
    const added = this.#call('add', message);
    this.#shown.set(key, added);
    if (this.#shown.size > MAX_TRACKED) this.#shown.delete(this.#shown.keys().next().value as string);
    await added;
  }

  /** Takes the hourglass off a message, if it got one. */
  async clear(message: MessageRef): Promise<void> {
    const key = keyOf(message);
    const added = this.#shown.get(key);
    if (!added) return;
    this.#shown.delete(key);
    if (await added) await this.#call('remove', message);
  }

  /** True once the hourglass call succeeded (or the reaction was already in the wanted state). */
  async #call(method: 'add' | 'remove', message: MessageRef): Promise<boolean> {
    const api = this.#api();
    if (!api) return false;
    try {
      await api[method]({ channel: message.channel, timestamp: message.ts, name: HOURGLASS });
      return true;
    } catch (err) {
      const code = slackErrorCode(err);
      // Someone (or a retry) got there first: the state is the wanted one.
      if (code === 'already_reacted' || code === 'no_reaction') return true;
      const hint = code === 'missing_scope' ? ' (add the reactions:write scope and reinstall the app)' : '';
      this.#logger()?.warn({ channel: message.channel, ts: message.ts, error: code ?? String(err) }, `could not ${method} the queued reaction${hint}`);
      return false;
    }
  }
}

function keyOf(message: MessageRef): string {
  return `${message.channel}:${message.ts}`;
}

/** The message a queued/started event is about, from its context (null if it has none). */
export function messageRefOf(context: Record<string, unknown> | undefined): MessageRef | null {
  const channel = context?.channel;
  const ts = context?.ts;
  return typeof channel === 'string' && typeof ts === 'string' ? { channel, ts } : null;
}
