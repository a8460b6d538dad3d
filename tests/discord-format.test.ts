// Discord format: reply text -> messages of at most 2000 characters, cut at
// paragraphs or lines, never inside a character, code blocks closed and
// reopened across parts. Pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DISCORD_MESSAGE_LIMIT, EMPTY_REPLY, ERROR_PREFIX, formatDiscordReply, splitMessage, characterBoundary } from '../adapters/discord/index.js';

/** A lone surrogate: half of a character cut in two. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Every part within the limit and well-formed UTF-16 (no lone surrogate). */
function assertValidParts(parts: string[], limit = DISCORD_MESSAGE_LIMIT): void {
  assert.ok(parts.length > 0, 'at least one part');
  for (const [i, part] of parts.entries()) {
    assert.ok(part.length <= limit, `part ${i} has ${part.length} > ${limit} characters`);
    assert.doesNotMatch(part, LONE_SURROGATE, `part ${i} splits a surrogate pair`);
    assert.notEqual(part.trim(), '', `part ${i} is blank`);
  }
}

/** Lines that open or close a code block. */
const fenceLines = (part: string) => part.split('\n').filter((line) => /^ {0,3}```/.test(line));

test('a reply within the limit is one part, unchanged; exactly 2000 characters still fits', () => {
  assert.deepEqual(formatDiscordReply('hello', 'reply'), ['hello']);
  const exact = 'x'.repeat(DISCORD_MESSAGE_LIMIT);
  assert.deepEqual(formatDiscordReply(exact, 'reply'), [exact]);
  const over = 'x'.repeat(DISCORD_MESSAGE_LIMIT + 1);
  const parts = formatDiscordReply(over, 'reply');
  assert.deepEqual(parts.map((p) => p.length), [2000, 1]);
  assert.equal(parts.join(''), over);
});

test('errors get a short prefix; an empty answer becomes a visible notice', () => {
  assert.deepEqual(formatDiscordReply('the model timed out', 'error'), [`${ERROR_PREFIX}the model timed out`]);
  assert.deepEqual(formatDiscordReply('   ', 'reply'), [EMPTY_REPLY]);
  const long = formatDiscordReply('e'.repeat(4500), 'error');
  assertValidParts(long);
  assert.ok(long[0]?.startsWith(ERROR_PREFIX));
  assert.ok(!long[1]?.startsWith(ERROR_PREFIX), 'only the first part carries the prefix');
});

test('long text is cut at paragraph boundaries first, then lines, and nothing is lost', () => {
  const paragraphs = Array.from({ length: 12 }, (_, i) => `Paragraph ${i}. ${'word '.repeat(60).trim()}`);
  const text = paragraphs.join('\n\n');
  const parts = splitMessage(text);
  assertValidParts(parts);
  assert.ok(parts.length >= 2);
  for (const part of parts) assert.match(part, /^Paragraph \d+\./, 'each part starts at a paragraph');
  assert.equal(parts.join('\n\n'), text);

  const lines = Array.from({ length: 80 }, (_, i) => `line ${i} ${'x'.repeat(40)}`).join('\n');
  const lineParts = splitMessage(lines);
  assertValidParts(lineParts);
  for (const part of lineParts) assert.match(part, /^line \d+ x+(\nline \d+ x+)*$/, 'cut between lines only');
  assert.equal(lineParts.join('\n'), lines);
});

test('a very long single line is cut at spaces, else hard at the limit', () => {
  const words = Array.from({ length: 900 }, (_, i) => `w${i}`).join(' ');
  const parts = splitMessage(words);
  assertValidParts(parts);
  assert.equal(parts.join(' '), words, 'cut at spaces, which are dropped');

  const token = 'y'.repeat(4500);
  const hard = splitMessage(token);
  assert.deepEqual(hard.map((p) => p.length), [2000, 2000, 500]);
  assert.equal(hard.join(''), token);
});

test('an emoji at the boundary is never split (surrogate pairs, ZWJ sequences, flags)', () => {
  const smile = `${'a'.repeat(1999)}😀${'b'.repeat(10)}`;
  const parts = splitMessage(smile);
  assertValidParts(parts);
  assert.equal(parts[0], 'a'.repeat(1999));
  assert.equal(parts.join(''), smile);

  const family = '👨‍👩‍👧';
  const zwj = `${'a'.repeat(1995)}${family}${'b'.repeat(10)}`;
  const zwjParts = splitMessage(zwj);
  assertValidParts(zwjParts);
  assert.ok(zwjParts[1]?.startsWith(family), 'the whole family moves to the next part');

  const flags = '🇫🇷'.repeat(1500);
  const flagParts = splitMessage(flags);
  assertValidParts(flagParts);
  for (const part of flagParts) assert.match(part, /^(🇫🇷)+$/u, 'no flag is cut in half');

  assert.equal(characterBoundary('ab😀', 3), 2, 'not between the two halves of a pair');
});

test('a cut inside a code block closes it and reopens it with the same language', () => {
  const code = Array.from({ length: 150 }, (_, i) => `const value${i} = compute(${i}); // step ${i}`).join('\n');
  const text = `Here is the file:\n\n\`\`\`ts\n${code}\n\`\`\`\n\nThat is all.`;
  const parts = splitMessage(text);
  assertValidParts(parts);
  assert.ok(parts.length >= 3);
  for (const [i, part] of parts.entries()) {
    assert.equal(fenceLines(part).length % 2, 0, `part ${i} opens and closes its code blocks`);
    if (i > 0 && i < parts.length) assert.ok(part.startsWith('```ts\n') || !part.includes('const value'), `part ${i} reopens with the language`);
  }
  assert.ok(parts.at(-1)?.endsWith('That is all.'));
  // Nothing of the code is lost or duplicated.
  const codeLines = parts.flatMap((p) => p.split('\n')).filter((l) => l.startsWith('const value'));
  assert.deepEqual(codeLines, code.split('\n'));
});

test('a block ending right at a cut is closed there, not reopened empty; plain ``` keeps no language', () => {
  const body = 'z'.repeat(1990);
  const text = `\`\`\`\n${body}\n\`\`\`\nafter the block ${'t'.repeat(100)}`;
  const parts = splitMessage(text);
  assertValidParts(parts);
  assert.equal(parts[0], `\`\`\`\n${body}\n\`\`\``);
  assert.ok(!parts.some((p) => /^```\n```/.test(p)), 'no empty reopened block');
  assert.ok(parts[1]?.startsWith('after the block'));

  const bare = `\`\`\`\n${'line of code\n'.repeat(300)}\`\`\``;
  const bareParts = splitMessage(bare);
  assertValidParts(bareParts);
  for (const part of bareParts) assert.ok(part.startsWith('```\n') && part.endsWith('\n```'));
});

test('small limits still make progress and respect the limit', () => {
  for (const limit of [5, 10, 37]) {
    const parts = splitMessage('```py\nprint("hi")\n```\n😀😀😀 done and dusted', limit);
    for (const part of parts) assert.ok(part.length <= limit, `${JSON.stringify(part)} over ${limit}`);
  }
});
