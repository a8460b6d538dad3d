/**
 * Reply text -> Discord messages. Pure. Discord takes at most 2000
 * characters a message, so a long answer becomes several parts: cut at a
 * paragraph, else a line, else a space, else between two characters (never
 * inside a surrogate pair or an emoji sequence). A cut inside a ``` code
 * block closes the block at the end of the part and reopens it, with the same
 * language, at the start of the next, so both parts render as code.
 *
 * Mentions are not escaped here: the client's `allowedMentions` (set once in
 * discord-adapter.ts) stops any text from pinging anyone.
 */

/** Discord's limit on a message's `content`. */
export const DISCORD_MESSAGE_LIMIT = 2000;

/** Put before an error notice so it does not read like the agent's answer. */
export const ERROR_PREFIX = '⚠️ ';

/** Sent instead of an empty answer: Discord refuses empty messages, and silence reads like a hang. */
export const EMPTY_REPLY = '(empty reply)';

/** What closes an open code block at the end of a part. */
const CLOSE_FENCE = '\n```';

/** A line that opens or closes a code block (up to 3 spaces of indent, then ```). */
const FENCE_LINE = /^ {0,3}```/;

const GRAPHEMES = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** The parts of one reply (or error notice), each at most {@link DISCORD_MESSAGE_LIMIT} characters. */
export function formatDiscordReply(text: string, kind: 'reply' | 'error'): string[] {
  const body = text.trim() === '' ? EMPTY_REPLY : text;
  return splitMessage(kind === 'error' ? `${ERROR_PREFIX}${body}` : body, DISCORD_MESSAGE_LIMIT);
}

/**
 * Splits `text` into parts of at most `limit` UTF-16 code units (Discord
 * counts no more than that), keeping code blocks intact across parts.
 * Whitespace-only parts are dropped.
 */
export function splitMessage(text: string, limit: number = DISCORD_MESSAGE_LIMIT): string[] {
  const parts: string[] = [];
  let rest = text;
  /** The opening line (``` + language) of a code block still open where `rest` starts. */
  let fence: string | null = null;
  while (rest.length > 0) {
    const head = fence === null ? '' : `${fence}\n`;
    if (head.length + rest.length <= limit) {
      if (rest.trim() !== '') parts.push(head + rest);
      break;
    }
    if (limit - head.length - CLOSE_FENCE.length < 1) {
      // A language tag nearly as long as the limit: give up reopening rather than loop.
      fence = null;
      continue;
    }
    // Use the whole limit unless the part ends inside a code block, which needs room to close it.
    let cut = findCut(rest, limit - head.length);
    let open = fenceAfter(rest.slice(0, cut.end), fence);
    if (open !== null) {
      cut = findCut(rest, limit - head.length - CLOSE_FENCE.length);
      open = fenceAfter(rest.slice(0, cut.end), fence);
    }
    let chunk = rest.slice(0, cut.end);
    let remainder = rest.slice(cut.next).replace(/^\n+/, '');
    if (open !== null) {
      const closing = /^ {0,3}```[ \t]*(\n|$)/.exec(remainder);
      // The block ends right after the cut: close it here instead of reopening an empty one.
      if (closing) remainder = remainder.slice(closing[0].length).replace(/^\n+/, '');
      chunk += CLOSE_FENCE;
      if (closing) open = null;
    }
    if (chunk.trim() !== '' && chunk !== CLOSE_FENCE) parts.push(head + chunk);
    fence = open;
    rest = remainder;
  }
  return parts;
}

/**
 * Where to cut `text` so the part is at most `budget` long: `end` is the
 * part's end, `next` where the rest starts (past the separator). Prefers a
 * paragraph break, then a line break, then a space, each only if it keeps
 * the part at least half full (no trickle of tiny parts); else a hard cut
 * at a character boundary.
 */
function findCut(text: string, budget: number): { end: number; next: number } {
  const window = text.slice(0, budget + 1);
  const min = Math.max(1, Math.floor(budget / 2));
  const paragraph = window.lastIndexOf('\n\n', budget);
  if (paragraph >= min) return { end: paragraph, next: paragraph + 2 };
  const line = window.lastIndexOf('\n', budget);
  if (line >= min) return { end: line, next: line + 1 };
  const space = Math.max(window.lastIndexOf(' ', budget), window.lastIndexOf('\t', budget));
  if (space >= min) return { end: space, next: space + 1 };
  // Always make progress, even with a limit too small for one character.
  const cut = Math.max(1, characterBoundary(text, budget));
  return { end: cut, next: cut };
}

/**
 * The last index at or before `max` that does not split a character: a
 * grapheme boundary (keeps emoji ZWJ sequences, flags and accents whole),
 * or at least not the middle of a surrogate pair.
 */
export function characterBoundary(text: string, max: number): number {
  if (max >= text.length) return text.length;
  const from = Math.max(0, max - 64);
  let best = -1;
  for (const { index } of GRAPHEMES.segment(text.slice(from, max + 64))) {
    const at = from + index;
    if (at > max) break;
    // The window's own start may fall inside a grapheme; only trust it at the text's start.
    if (at > from || from === 0) best = at;
  }
  if (best > 0) return best;
  // A single "character" longer than the window (a run of combining marks): split it, but never a surrogate pair.
  return isHighSurrogate(text.charCodeAt(max - 1)) ? max - 1 : max;
}

/** The code block open at the end of `chunk` (its opening line), given the one open at its start. */
function fenceAfter(chunk: string, openAtStart: string | null): string | null {
  let open = openAtStart;
  for (const line of chunk.split('\n')) {
    if (!FENCE_LINE.test(line)) continue;
    if (open !== null) {
      open = null;
      continue;
    }
    // Reopen with the language only ("```ts"), not trailing words of the opening line.
    const language = /^\S*/.exec(line.trimStart().replace(/^`+/, ''))?.[0] ?? '';
    open = `\`\`\`${language}`;
  }
  return open;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
