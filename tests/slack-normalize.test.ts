// Slack event -> inbound event (adapters/slack/normalize.ts), on recorded
// Events API payloads under tests/fixtures/slack/: which events are answered,
// the source and id strings of DESIGN.md section 3, the context the adapter
// answers with, and the text the model sees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { classifySlackEvent, normalizeSlackEvent, stripBotMention, type SlackMessageEvent, type SlackSettings } from '../adapters/slack/normalize.js';
import { parseSlackSource, slackMessageId, slackSource } from '../adapters/slack/source.js';
import { slackToPlainText } from '../adapters/slack/text.js';

const FIXTURES = join(fileURLToPath(import.meta.url), '..', 'fixtures', 'slack');
const BOT = 'UBOT';
const OPEN: SlackSettings = { require_mention: true, allowed_user_ids: [], allowed_channel_ids: [] };
const NOW = new Date('2024-05-01T12:00:00Z');

/** The `event` of a recorded event_callback body. */
function fixture(name: string): SlackMessageEvent {
  const body = JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as { type: string; event: SlackMessageEvent };
  assert.equal(body.type, 'event_callback', `${name} is an event_callback body`);
  return body.event;
}

test('an app_mention in a channel: source, id, context, mention stripped', () => {
  const message = normalizeSlackEvent(fixture('app_mention'), BOT, OPEN, NOW);
  assert.deepEqual(message, {
    id: 'slack:C0GENERAL:1700000100.000100',
    source: 'platform-slack:U0ALICE:C0GENERAL:1700000100.000100',
    content: "what's the weather in Lisbon?",
    receivedAt: NOW.toISOString(),
    author: { id: 'U0ALICE' },
    context: { channel: 'C0GENERAL', ts: '1700000100.000100', threadTs: '1700000100.000100' },
  });
});

test('a mention inside a thread belongs to the thread (thread_ts), under its own message id', () => {
  const message = normalizeSlackEvent(fixture('app_mention_thread'), BOT, OPEN, NOW);
  assert.ok(message);
  assert.equal(message.source, 'platform-slack:U0BOB:C0GENERAL:1700000100.000100');
  assert.equal(message.id, 'slack:C0GENERAL:1700000200.000200');
  assert.deepEqual(message.context, { channel: 'C0GENERAL', ts: '1700000200.000200', threadTs: '1700000100.000100' });
  // The <@UBOT|name> form and the comma after it go.
  assert.equal(message.content, 'and tomorrow?');
});

test('a DM (message.im) is answered, in the thread of the DM', () => {
  const message = normalizeSlackEvent(fixture('message_im'), BOT, OPEN, NOW);
  assert.ok(message);
  assert.equal(message.source, 'platform-slack:U0ALICE:D0ALICE:1700000400.000400');
  assert.equal(message.id, 'slack:D0ALICE:1700000400.000400');
  assert.equal(message.content, "hi, can you summarize this week's notes?");
});

test('the message copy of a channel mention is ignored, and would share the app_mention id anyway', () => {
  assert.deepEqual(classifySlackEvent(fixture('message_channel_mention'), BOT, OPEN, NOW), { ok: false, reason: 'no_mention' });
  // With require_mention off, channel messages count, and the two copies are one message.
  const loose = { ...OPEN, require_mention: false };
  const viaMessage = normalizeSlackEvent(fixture('message_channel_mention'), BOT, loose, NOW);
  const viaMention = normalizeSlackEvent(fixture('app_mention'), BOT, loose, NOW);
  assert.ok(viaMessage && viaMention);
  assert.deepEqual(viaMessage, viaMention);
});

test('edits, deletions, joins, bot messages and the bot itself are ignored, with the reason', () => {
  const cases: [string, string, string | undefined][] = [
    ['message_changed', 'subtype', 'message_changed'],
    ['message_deleted', 'subtype', 'message_deleted'],
    ['channel_join', 'subtype', 'channel_join'],
    ['bot_message', 'subtype', 'bot_message'],
    ['own_message', 'own_message', undefined],
    ['app_mention_from_bot', 'bot_message', 'B0OTHER'],
  ];
  for (const [name, reason, detail] of cases) {
    const result = classifySlackEvent(fixture(name), BOT, OPEN, NOW);
    assert.deepEqual(result, { ok: false, reason, ...(detail !== undefined && { detail }) }, name);
    assert.equal(normalizeSlackEvent(fixture(name), BOT, OPEN, NOW), null, name);
  }
  // bot_id alone is enough, even without a subtype or the bot's own user id.
  const { user: _user, ...anonymous } = fixture('own_message');
  assert.deepEqual(classifySlackEvent(anonymous as SlackMessageEvent, BOT, OPEN, NOW), { ok: false, reason: 'bot_message', detail: 'BBOT' });
});

test('allowlists: a user or channel outside them is refused; empty lists allow everyone', () => {
  const mention = fixture('app_mention');
  const dm = fixture('message_im');
  assert.deepEqual(classifySlackEvent(mention, BOT, { ...OPEN, allowed_user_ids: ['U0BOB'] }, NOW), { ok: false, reason: 'user_not_allowed', detail: 'U0ALICE' });
  assert.deepEqual(classifySlackEvent(mention, BOT, { ...OPEN, allowed_channel_ids: ['C0OTHER'] }, NOW), { ok: false, reason: 'channel_not_allowed', detail: 'C0GENERAL' });
  assert.ok(normalizeSlackEvent(mention, BOT, { ...OPEN, allowed_user_ids: ['U0ALICE'], allowed_channel_ids: ['C0GENERAL'] }, NOW));
  // A DM's channel is the DM: a channel allowlist covers it only if it lists it.
  assert.deepEqual(classifySlackEvent(dm, BOT, { ...OPEN, allowed_channel_ids: ['C0GENERAL'] }, NOW), { ok: false, reason: 'channel_not_allowed', detail: 'D0ALICE' });
  assert.ok(normalizeSlackEvent(dm, BOT, { ...OPEN, allowed_user_ids: ['U0ALICE'] }, NOW));
});

test('a bare mention, other event types and incomplete events are ignored', () => {
  const bare = { ...fixture('app_mention'), text: '<@UBOT>  ' };
  assert.deepEqual(classifySlackEvent(bare, BOT, OPEN, NOW), { ok: false, reason: 'empty' });
  assert.deepEqual(classifySlackEvent({ type: 'reaction_added', user: 'U0ALICE' }, BOT, OPEN, NOW), { ok: false, reason: 'unsupported_event', detail: 'reaction_added' });
  const { ts: _ts, ...noTs } = fixture('app_mention');
  assert.deepEqual(classifySlackEvent(noTs as SlackMessageEvent, BOT, OPEN, NOW), { ok: false, reason: 'incomplete' });
});

test('Slack markup reaches the model as plain text', () => {
  const message = normalizeSlackEvent(fixture('app_mention_markup'), BOT, OPEN, NOW);
  assert.equal(message?.content, 'compare <div> & the docs (https://example.com/a?b=1&c=2) with #random, cc @U0BOB @here');
  assert.equal(slackToPlainText('<https://x.io> <mailto:a@b.io|a@b.io> <@U1|ann> <!subteam^S1|@oncall> <!channel> &amp;lt;'), 'https://x.io a@b.io @ann @oncall @channel &lt;');
  assert.equal(stripBotMention('hey <@UBOT> look:\n    indented code', BOT), 'hey look:\n    indented code');
  assert.equal(stripBotMention('<@UBOTX> not me', BOT), '<@UBOTX> not me');
});

test('source strings round-trip; a source without a thread posts at the top level', () => {
  const source = slackSource('U1', 'C1', '1700000000.000100');
  assert.equal(source, 'platform-slack:U1:C1:1700000000.000100');
  assert.deepEqual(parseSlackSource(source), { userId: 'U1', channel: 'C1', threadTs: '1700000000.000100' });
  assert.deepEqual(parseSlackSource('platform-slack:U1:C1'), { userId: 'U1', channel: 'C1' });
  assert.equal(parseSlackSource('platform-discord:1:2'), null);
  assert.equal(parseSlackSource('platform-slack:U1'), null);
  assert.equal(parseSlackSource('platform-slack:U1:C1:1.2:extra'), null);
  assert.equal(slackMessageId('C1', '1.2'), 'slack:C1:1.2');
});
