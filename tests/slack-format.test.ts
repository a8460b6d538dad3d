// Reply text -> Slack messages (adapters/slack/format.ts): escaping that
// makes model text unable to ping or forge links, splitting at 4,000
// characters on line boundaries, never inside a character or an escape,
// with code fences balanced in every part.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EMPTY_REPLY, formatSlackReply, SLACK_ERROR_PREFIX, SLACK_MAX_CHARS, splitSlackText } from '../adapters/slack/format.js';
import { escapeSlackText, slackToPlainText } from '../adapters/slack/text.js';

/** Fences in a part are balanced (an even number of ``` markers). */
function balanced(part: string): boolean {
  return (part.split('```').length - 1) % 2 === 0;
}

/** No part starts with a low surrogate or ends with a high one. */
function wholeCharacters(parts: string[]): boolean {
  return parts.every((p) => !/^[\uDC00-\uDFFF]/.test(p) && !/[\uD800-\uDBFF]$/.test(p));
}

test('special mentions, user mentions, links and & are escaped', () => {
  const [text] = formatSlackReply('Hey <!channel> and <!here>, ask <@U123> or <!subteam^S1>; see <https://evil.example|bank> & more');
  assert.equal(text, 'Hey &lt;!channel&gt; and &lt;!here&gt;, ask &lt;@U123&gt; or &lt;!subteam^S1&gt;; see &lt;https://evil.example|bank&gt; &amp; more');
  assert.doesNotMatch(text ?? '', /<|>/);
  // Already-escaped text is shown as written, not decoded into markup.
  assert.equal(escapeSlackText('&lt;!here&gt;'), '&amp;lt;!here&amp;gt;');
  // What a person sees after Slack decodes it is exactly the model's text.
  assert.equal(slackToPlainText(text ?? ''), 'Hey <!channel> and <!here>, ask <@U123> or <!subteam^S1>; see <https://evil.example|bank> & more');
});

test('short replies are one part; errors get a prefix; an empty reply says so', () => {
  assert.deepEqual(formatSlackReply('hello'), ['hello']);
  assert.deepEqual(formatSlackReply('the model is not reachable', 'error'), [`${SLACK_ERROR_PREFIX}the model is not reachable`]);
  assert.deepEqual(formatSlackReply('  \n '), [EMPTY_REPLY]);
  assert.equal(formatSlackReply('x'.repeat(SLACK_MAX_CHARS)).length, 1);
});

test('a long reply splits at line boundaries, each part at most 4000 characters, nothing lost', () => {
  const lines = Array.from({ length: 300 }, (_, i) => `line ${i}: ${'lorem ipsum '.repeat(3)}`);
  const text = lines.join('\n');
  const parts = formatSlackReply(text);
  assert.ok(parts.length >= 3, `expected several parts, got ${parts.length}`);
  for (const part of parts) assert.ok(part.length <= SLACK_MAX_CHARS, `part of ${part.length}`);
  // Split between lines: rejoining with the newlines gives the text back.
  assert.equal(parts.join('\n'), text);
  for (const part of parts) assert.match(part, /^line \d+: /);
});

test('escaping counts toward the limit and an escape is never cut', () => {
  const text = '&'.repeat(5000);
  const parts = formatSlackReply(text);
  for (const part of parts) {
    assert.ok(part.length <= SLACK_MAX_CHARS);
    assert.match(part, /^(&amp;)+$/);
  }
  assert.equal(parts.join(''), escapeSlackText(text));
});

test('one long line is cut at spaces; without spaces, never inside a surrogate pair or a grapheme', () => {
  const words = Array.from({ length: 1200 }, (_, i) => `word${i}`).join(' ');
  const wordParts = formatSlackReply(words);
  assert.ok(wordParts.length >= 2);
  assert.equal(wordParts.join(''), words);
  for (const part of wordParts.slice(1)) assert.match(part, /^word\d+/, 'parts start on a word');

  // 😀 is a surrogate pair; with an odd offset a naive cut at 4000 lands inside one.
  const emoji = `a${'😀'.repeat(3000)}`;
  const emojiParts = formatSlackReply(emoji);
  assert.ok(emojiParts.length >= 2);
  assert.ok(wholeCharacters(emojiParts));
  assert.equal(emojiParts.join(''), emoji);
  for (const part of emojiParts) assert.ok(part.length <= SLACK_MAX_CHARS);

  // A family emoji is one grapheme of several code points joined by ZWJ.
  const family = '👨‍👩‍👧';
  const families = `ab${family.repeat(700)}`;
  const familyParts = formatSlackReply(families);
  assert.ok(familyParts.length >= 2);
  assert.equal(familyParts.join(''), families);
  for (const part of familyParts.slice(1)) assert.ok(part.startsWith(family), 'each part starts on a whole grapheme');
});

test('a code block cut in two is closed and reopened with its language', () => {
  const code = Array.from({ length: 400 }, (_, i) => `  const value${i} = compute(${i}); // step ${i}`).join('\n');
  const text = `Here is the script:\n\n\`\`\`ts\n${code}\n\`\`\`\n\nThat's it.`;
  const parts = formatSlackReply(text);
  assert.ok(parts.length >= 4, `expected several parts, got ${parts.length}`);
  for (const part of parts) {
    assert.ok(part.length <= SLACK_MAX_CHARS, `part of ${part.length}`);
    assert.ok(balanced(part), `unbalanced fences in part: ${part.slice(0, 60)}...`);
  }
  assert.match(parts[0] ?? '', /^Here is the script:\n\n```ts\n/);
  assert.match(parts[0] ?? '', /\n```$/);
  for (const part of parts.slice(1, -1)) assert.match(part, /^```ts\n {2}const value\d+[\s\S]*\n```$/);
  assert.match(parts[parts.length - 1] ?? '', /That's it\.$/);
  // Without the added fences, the parts are the text again.
  const stripped = parts.map((p, i) => {
    let s = p;
    if (i > 0) s = s.replace(/^```ts\n/, '');
    if (i < parts.length - 1) s = s.replace(/\n```$/, '');
    return s;
  });
  assert.equal(stripped.join('\n'), text);
});

test('fences that open and close within a part are left alone; a custom limit works', () => {
  const block = '```\nshort\n```';
  const text = Array.from({ length: 40 }, () => `${'text '.repeat(10)}\n${block}`).join('\n');
  const parts = splitSlackText(text, 200);
  for (const part of parts) {
    assert.ok(part.length <= 200);
    assert.ok(balanced(part));
  }
  assert.throws(() => splitSlackText('x', 10), RangeError);
});

test('no part is only whitespace (Slack refuses those)', () => {
  const parts = splitSlackText(`${'\n'.repeat(300)}x`, 100);
  assert.deepEqual(parts, ['x']);
  assert.deepEqual(splitSlackText('\n'.repeat(300), 100), [EMPTY_REPLY]);
});
