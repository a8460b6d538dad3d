/**
 * Reply text -> the texts of the Slack messages that carry it. Pure.
 *
 * Slack cuts a message's `text` at 4,000 characters, so longer replies go
 * out as several messages. The text is escaped first (see text.ts: the model
 * must not be able to ping `<!channel>` or forge links), then split, so the
 * limit holds for what is actually sent. Splits prefer line boundaries, then
 * spaces; they never fall inside a character (surrogate pair or grapheme),
 * nor inside an escape (`&amp;`); and a code block cut in two is closed at
 * the end of one part and reopened (same language tag) at the start of the
 * next, so every part renders on its own.
 */
import { escapeSlackText } from './text.js';

/** Slack's limit on one message's text (characters). */
export const SLACK_MAX_CHARS = 4000;

/** Put before error notices, so they read as Brine's, not the agent's. */
export const SLACK_ERROR_PREFIX = ':warning: ';

/** Sent for an empty reply (Slack refuses a message without text). */
export const EMPTY_REPLY = '_(empty reply)_';

const FENCE = '```';
/** What closes a code block at the end of a part. */
const CLOSE = `\n${FENCE}`;
/** Longest fence line (e.g. "```typescript") carried over to reopen a block; longer ones reopen as a bare fence. */
const MAX_OPENER = 24;

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Escapes and splits a reply (or, with `kind` 'error', an error notice, which
 * gets {@link SLACK_ERROR_PREFIX}) into parts of at most `limit` characters.
 */
export function formatSlackReply(text: string, kind: 'reply' | 'error' = 'reply', limit: number = SLACK_MAX_CHARS): string[] {
  const body = text.trim() === '' ? EMPTY_REPLY : escapeSlackText(text);
  return splitSlackText(kind === 'error' ? SLACK_ERROR_PREFIX + body : body, limit);
}

/**
 * Splits already-escaped text into parts of at most `limit` characters:
 * between lines where possible; a line longer than a part is cut at a space
 * (or, failing that, at a character boundary). Code fences are balanced
 * across parts. `limit` must leave room for a reopened fence (>= 64).
 */
export function splitSlackText(text: string, limit: number = SLACK_MAX_CHARS): string[] {
  if (limit < 64) throw new RangeError(`limit must be at least 64, got ${limit}`);
  if (text.length <= limit) return [text];
  // The most one piece may take so that, in a part reopened with a fence and
  // closed again, it still fits: opener + "\n" + piece + CLOSE <= limit.
  const pieceMax = limit - MAX_OPENER - 1 - CLOSE.length;
  const parts: string[] = [];
  let current = '';
  let started = false; // current holds at least one line (possibly an empty one)
  let reopened = false; // current is just the fence line that reopens a block
  let opener: string | null = null; // the fence line of the code block open at the end of `current`

  const flush = () => {
    parts.push(opener !== null ? current + CLOSE : current);
    current = opener ?? '';
    started = reopened = opener !== null;
  };

  for (const line of text.split('\n')) {
    const pieces = cutLine(line, pieceMax);
    pieces.forEach((piece, i) => {
      const last = i === pieces.length - 1;
      const openerAfter = last ? fenceAfter(line, opener) : opener;
      const reserve = openerAfter !== null ? CLOSE.length : 0;
      // A new line, or the first piece after a reopening fence, starts on its own line.
      const sep = () => (started && (i === 0 || reopened) ? '\n' : '');
      if (started && current.length + sep().length + piece.length + reserve > limit) flush();
      // A part never starts with blank lines (outside code, where they are layout).
      if (!started && piece === '' && parts.length > 0) return;
      current += sep() + piece;
      started = true;
      reopened = false;
      if (last) opener = openerAfter;
    });
  }
  if (started) parts.push(current);
  // Slack refuses a message of only whitespace (a run of blank lines past the limit).
  const sendable = parts.filter((part) => part.trim() !== '');
  return sendable.length > 0 ? sendable : [EMPTY_REPLY];
}

/**
 * The code block open after `line`, given the one open before it (null =
 * none): each "```" on the line toggles. A block opened by a line starting
 * with the fence keeps that line (with its language tag) to reopen with.
 */
function fenceAfter(line: string, openBefore: string | null): string | null {
  const count = line.split(FENCE).length - 1;
  if (count % 2 === 0) return openBefore;
  if (openBefore !== null) return null;
  const trimmed = line.trim();
  return count === 1 && trimmed.startsWith(FENCE) && trimmed.length <= MAX_OPENER ? trimmed : FENCE;
}

/** Cuts a line into pieces of at most `max` characters, at spaces where possible. */
function cutLine(line: string, max: number): string[] {
  const pieces: string[] = [];
  let rest = line;
  while (rest.length > max) {
    const cut = safeCut(rest, max);
    pieces.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  pieces.push(rest);
  return pieces;
}

/** Where to cut `text` so the first piece has at most `max` characters. */
function safeCut(text: string, max: number): number {
  // After the last space in the second half: the words stay whole.
  const space = text.lastIndexOf(' ', max - 1);
  if (space + 1 >= max / 2) return space + 1;
  let cut = graphemeBoundary(text, max);
  // Never inside an escape: every & in escaped text starts one (&amp; &lt; &gt;).
  const amp = text.lastIndexOf('&', cut - 1);
  if (amp >= 0 && amp > cut - 5 && text.indexOf(';', amp) >= cut) cut = amp;
  return cut > 0 ? cut : max;
}

/**
 * The last grapheme boundary at or before `at` (so an emoji, a flag or a
 * letter with its accents is never cut), looking at a small window around it.
 */
function graphemeBoundary(text: string, at: number): number {
  const start = Math.max(0, at - 32);
  let best = -1;
  for (const { index } of graphemes.segment(text.slice(start, at + 32))) {
    if (start + index > at) break;
    best = start + index;
  }
  // Window fallback: at least never split a surrogate pair.
  if (best <= 0) best = isHighSurrogate(text.charCodeAt(at - 1)) ? at - 1 : at;
  return best;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
