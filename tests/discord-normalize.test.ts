// Discord normalize: recorded gateway MESSAGE_CREATE payloads
// (tests/fixtures/discord/) -> Brine inbound events, or nothing. Pure: no
// client, no network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  channelIdOfSource,
  classifyDiscordMessage,
  fieldsFromPayload,
  normalizeDiscordMessage,
  RecentIds,
  stripBotMention,
  type DiscordSettings,
  type MessagePayload,
} from '../adapters/discord/index.js';

const FIXTURES = join(fileURLToPath(import.meta.url), '..', 'fixtures', 'discord');
const BOT = '1187654321098765432';
const ALICE = '1101111111111111111';
const BOB = '1102222222222222222';
const GENERAL = '1120000000000000001';
const THREAD = '1120000000000000009';
const DM = '1130000000000000001';
const GUILD = '1110000000000000000';
const NOW = new Date('2024-06-01T12:00:01.000Z');
const OPEN: DiscordSettings = { require_mention: true, allowed_user_ids: [], allowed_channel_ids: [] };

function fixture(name: string): MessagePayload {
  const frame = JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as { op: number; t: string; d: MessagePayload };
  assert.equal(frame.op, 0);
  assert.equal(frame.t, 'MESSAGE_CREATE');
  return frame.d;
}

function normalize(name: string, settings: Partial<DiscordSettings> = {}, parentChannelId?: string) {
  return normalizeDiscordMessage(fieldsFromPayload(fixture(name), { parentChannelId: parentChannelId ?? null }), BOT, { ...OPEN, ...settings }, NOW);
}

function reason(name: string, settings: Partial<DiscordSettings> = {}, parentChannelId?: string) {
  const result = classifyDiscordMessage(fieldsFromPayload(fixture(name), { parentChannelId: parentChannelId ?? null }), BOT, { ...OPEN, ...settings }, NOW);
  return result.ok ? 'answered' : result.reason;
}

test('a DM is answered in its DM channel, with no guild in the context', () => {
  assert.deepEqual(normalize('dm.json'), {
    id: 'discord:1140000000000000001',
    source: `platform-discord:${ALICE}:${DM}`,
    content: 'hello brine, what can you do?',
    receivedAt: NOW.toISOString(),
    author: { id: ALICE, name: 'Alice' },
    context: { channelId: DM, messageId: '1140000000000000001' },
  });
});

test('a guild mention is answered, the mention stripped, the guild in the context', () => {
  assert.deepEqual(normalize('guild-mention.json'), {
    id: 'discord:1140000000000000002',
    source: `platform-discord:${ALICE}:${GENERAL}`,
    content: 'what is the weather in Lyon?',
    receivedAt: NOW.toISOString(),
    author: { id: ALICE, name: 'Alice' },
    context: { channelId: GENERAL, messageId: '1140000000000000002', guildId: GUILD },
  });
});

test('a guild message without a mention is ignored, unless require_mention is off', () => {
  assert.equal(normalize('guild-no-mention.json'), null);
  assert.equal(reason('guild-no-mention.json'), 'no_mention');
  const answered = normalize('guild-no-mention.json', { require_mention: false });
  assert.equal(answered?.content, 'just chatting with friends here');
  assert.equal(answered?.source, `platform-discord:${BOB}:${GENERAL}`);
});

test('a reply to the bot counts as a mention (Discord lists the replied-to user)', () => {
  assert.equal(normalize('reply-to-bot.json')?.content, 'and tomorrow?');
});

test("the bot's own messages and other bots' are never answered, even when mentioning it", () => {
  assert.equal(reason('own-message.json'), 'own_message');
  assert.equal(reason('own-message.json', { require_mention: false }), 'own_message');
  assert.equal(reason('other-bot.json'), 'bot_or_webhook');
  assert.equal(normalize('other-bot.json', { require_mention: false }), null);
});

test('system messages (a member joined) and a bare mention are not answered', () => {
  assert.equal(reason('member-join.json', { require_mention: false }), 'system_message');
  assert.equal(reason('mention-only.json'), 'empty');
});

test('a thread is its own channel; the old <@!id> mention form and a comma after it are stripped', () => {
  const message = normalize('thread-mention.json');
  assert.equal(message?.source, `platform-discord:${BOB}:${THREAD}`);
  assert.equal(message?.content, 'summarize this thread');
  assert.deepEqual(message?.context, { channelId: THREAD, messageId: '1140000000000000006', guildId: GUILD });
});

test('allowlists: a user or channel outside them is refused; empty lists allow everyone', () => {
  assert.equal(reason('guild-mention.json', { allowed_user_ids: [BOB] }), 'user_not_allowed');
  assert.equal(reason('guild-mention.json', { allowed_user_ids: [ALICE] }), 'answered');
  assert.equal(reason('guild-mention.json', { allowed_channel_ids: [THREAD] }), 'channel_not_allowed');
  assert.equal(reason('guild-mention.json', { allowed_channel_ids: [GENERAL] }), 'answered');
  // A DM is a channel too: a channel allowlist without it refuses DMs.
  assert.equal(reason('dm.json', { allowed_channel_ids: [GENERAL] }), 'channel_not_allowed');
  assert.equal(reason('dm.json', { allowed_user_ids: [BOB] }), 'user_not_allowed');
  // A thread is allowed through its own id or through its parent channel's.
  assert.equal(reason('thread-mention.json', { allowed_channel_ids: [GENERAL] }), 'channel_not_allowed');
  assert.equal(reason('thread-mention.json', { allowed_channel_ids: [GENERAL] }, GENERAL), 'answered');
  assert.equal(reason('thread-mention.json', { allowed_channel_ids: [THREAD] }), 'answered');
  // Refusal wins over everything but the bot checks: a refused user's mention is never normalized.
  assert.equal(normalize('guild-mention.json', { allowed_user_ids: [BOB] }), null);
});

test('stripBotMention keeps the rest of the text as typed, other mentions included', () => {
  assert.equal(stripBotMention(`<@${BOT}> hi`, BOT), 'hi');
  assert.equal(stripBotMention(`hey <@${BOT}> how are you`, BOT), 'hey how are you');
  assert.equal(stripBotMention(`<@!${BOT}>: run\n    indented code`, BOT), 'run\n    indented code');
  assert.equal(stripBotMention(`<@${BOT}> ask <@${BOB}> too`, BOT), `ask <@${BOB}> too`);
  assert.equal(stripBotMention(`<@${BOT}><@${BOT}>`, BOT), '');
});

test('channelIdOfSource reads the last segment of Discord sources only', () => {
  assert.equal(channelIdOfSource(`platform-discord:${ALICE}:${GENERAL}`), GENERAL);
  assert.equal(channelIdOfSource('platform-slack:U1:C1:1.2'), null);
  assert.equal(channelIdOfSource('platform-discord:alice:not-a-channel'), null);
});

test('RecentIds remembers a bounded number of ids, oldest forgotten first', () => {
  const seen = new RecentIds(3);
  assert.equal(seen.add('a'), true);
  assert.equal(seen.add('a'), false, 'a replay is a duplicate');
  seen.add('b');
  seen.add('c');
  seen.add('d');
  assert.equal(seen.size, 3);
  assert.equal(seen.has('a'), false, 'the oldest was forgotten');
  assert.equal(seen.has('d'), true);
  seen.delete('d');
  assert.equal(seen.add('d'), true, 'a forgotten id can be accepted again');
  assert.throws(() => new RecentIds(0), RangeError);
});
