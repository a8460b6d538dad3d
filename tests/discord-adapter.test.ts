// The Discord channel end to end: a real BrineServer in-process, the real
// discord.js client logged in to the fake Discord (REST + JSON gateway on
// 127.0.0.1), the real openai SDK against the fake LLM. No mocks of
// discord.js. Waits are on recorded REST calls, gateway counters and the fake
// LLM's counters; the few short pauses come before asserting an absence
// (nothing more happened), never before asserting that something did.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { echo, LEVEL, startDiscordServer, type DiscordServerFixture } from './fakes/fake-discord-harness.js';
import type { RestCall } from './fakes/fake-discord.js';
import { lastUser } from './helpers/harness.js';
import { until } from './helpers/local-api-client.js';
import { TypingIndicators } from '../adapters/discord/index.js';

/** No test may hang: a broken path fails by timeout instead. */
const T = { timeout: 15_000 };
const MESSAGES = /^\/channels\/\d+\/messages$/;
const HOURGLASS = '⏳';

/** Pause before asserting an absence: longer than discord.js' 500 ms reconnect delay. */
const settle = (ms = 700) => new Promise((resolve) => setTimeout(resolve, ms));

/** The successful POST that answers message `id`. */
function replyTo(f: DiscordServerFixture, id: string): Promise<RestCall> {
  return f.discord.waitForCall((c) => c.status === 200 && MESSAGES.test(c.path) && c.method === 'POST' && c.body?.message_reference?.message_id === id, `the reply to message ${id}`);
}

test('a DM is answered in the DM channel', T, async (t) => {
  const f = await startDiscordServer(t);
  const message = f.discord.dm(f.discord.alice, 'hello there');
  const reply = await replyTo(f, message.id);
  assert.equal(reply.path, `/channels/${f.discord.dmChannelOf(f.discord.alice).id}/messages`);
  assert.equal(reply.body.content, 'pickle says: hello there');
  assert.equal(lastUser(f.llm.requests[0]), 'hello there');
  assert.equal(f.discord.identifies.length, 1);
  // The identify asked for exactly the intents Brine needs: Guilds, GuildMessages, DirectMessages, MessageContent.
  assert.equal(f.discord.identifies[0].intents, (1 << 0) | (1 << 9) | (1 << 12) | (1 << 15));
});

test('a guild mention is answered in its channel as a reply, and can ping nobody', T, async (t) => {
  const f = await startDiscordServer(t);
  const message = f.discord.mention(f.discord.alice, 'tell @everyone and <@&123> hello');
  const reply = await replyTo(f, message.id);
  assert.equal(reply.path, `/channels/${f.discord.general.id}/messages`);
  assert.equal(lastUser(f.llm.requests[0]), 'tell @everyone and <@&123> hello', 'the bot mention is stripped');
  assert.equal(reply.body.content, 'pickle says: tell @everyone and <@&123> hello');
  assert.deepEqual(reply.body.message_reference, { message_id: message.id, fail_if_not_exists: false });
  assert.deepEqual(reply.body.allowed_mentions, { parse: [], replied_user: true }, 'no @everyone, @here, role or user pings');
});

test('a mention in a thread is answered in the thread', T, async (t) => {
  const f = await startDiscordServer(t);
  const message = f.discord.mention(f.discord.bob, 'sum it up', f.discord.thread);
  const reply = await replyTo(f, message.id);
  assert.equal(reply.path, `/channels/${f.discord.thread.id}/messages`);
  assert.equal(reply.body.content, 'pickle says: sum it up');
});

test('a guild message without a mention, and other bots, get no LLM call', T, async (t) => {
  const f = await startDiscordServer(t);
  const { discord } = f;
  const plain = discord.injectMessage({ channel: discord.general, author: discord.bob, content: 'just chatting' });
  const bot = discord.injectMessage({ channel: discord.general, author: discord.otherBot, content: `<@${discord.bot.id}> hi`, mentions: [discord.bot] });
  // Messages are handled in gateway order: once this one is answered, the two before were dropped.
  const marker = discord.mention(discord.alice, 'marker');
  await replyTo(f, marker.id);
  assert.equal(f.llm.requests.length, 1);
  assert.equal(lastUser(f.llm.requests[0]), 'marker');
  for (const ignored of [plain, bot]) assert.equal(discord.posted().filter((c) => c.body?.message_reference?.message_id === ignored.id).length, 0);
  // The bot's own reply came back over the gateway too (as on Discord) and was not answered.
  await f.server.delivery.idle();
  assert.equal(discord.posted().length, 1);
});

test('allowlists: a user outside allowed_user_ids gets no LLM call; a reload lifts it', T, async (t) => {
  const f = await startDiscordServer(t, { config: (d) => `channels:\n  discord:\n    allowed_user_ids: ["${d.alice.id}"]\n` });
  const { discord } = f;
  const refused = discord.mention(discord.bob, 'let me in');
  const allowed = discord.mention(discord.alice, 'I am allowed');
  await replyTo(f, allowed.id);
  assert.equal(f.llm.requests.length, 1);
  assert.equal(lastUser(f.llm.requests[0]), 'I am allowed');
  assert.ok(f.logs.some((l) => l.reason === 'user_not_allowed' && l.messageId === refused.id), 'the refusal is logged');

  // Settings are read per message: after a config reload the same user is answered.
  await writeFile(join(f.workspace, 'config.user.yaml'), 'channels:\n  discord:\n    allowed_user_ids: []\n');
  await f.server.reload();
  const again = discord.mention(discord.bob, 'and now?');
  await replyTo(f, again.id);
  assert.equal(f.llm.requests.length, 2);
});

test('a reply over 2000 characters arrives as several messages, in order, none over the limit', T, async (t) => {
  const paragraphs = Array.from({ length: 5 }, (_, i) => `Part ${i}: ${'lorem ipsum '.repeat(75).trim()}`);
  const long = paragraphs.join('\n\n');
  const f = await startDiscordServer(t, { handler: (req) => (req.lastUserMessage === 'long please' ? { content: long } : echo(req)) });
  const message = f.discord.mention(f.discord.alice, 'long please');
  await replyTo(f, message.id);
  await f.discord.waitFor(() => f.discord.posted().length >= 3, 'three parts');
  await f.server.delivery.idle();
  const parts = f.discord.posted();
  assert.equal(parts.length, 3);
  for (const part of parts) assert.ok(part.body.content.length <= 2000, `a part has ${part.body.content.length} characters`);
  assert.equal(parts.map((p) => p.body.content).join('\n\n'), long, 'in order, nothing lost');
  assert.deepEqual(parts.map((p) => p.body.message_reference?.message_id), [message.id, undefined, undefined], 'only the first part is a reply');
});

test('typing while the turn runs; cookie busy: the waiting message gets ⏳, removed when its turn starts', T, async (t) => {
  const f = await startDiscordServer(t, {
    hold: true,
    typing: { intervalMs: 100 },
    config: (d) => `routing:\n  bindings:\n    - { agent: cookie, value: "platform-discord:.*:${d.cookie.id}" }\n`,
  });
  const { discord, llm } = f;
  const channel = discord.cookie.id;
  const first = discord.mention(discord.alice, 'remember A', discord.cookie);
  await llm.waitForPending(1, 5000, 'cookie');
  // Typing is shown, and refreshed, while the turn runs.
  await discord.waitFor(() => discord.typing(channel).length >= 2, 'typing refreshed while the turn runs');

  const second = discord.mention(discord.bob, 'remember B', discord.cookie);
  const put = await discord.waitForCall((c) => c.method === 'PUT' && c.path === `/channels/${channel}/messages/${second.id}/reactions/${HOURGLASS}/@me`, 'the hourglass on the waiting message');
  assert.equal(put.status, 204);
  assert.equal(put.rawPath.includes(encodeURIComponent(HOURGLASS)), true, 'discord.js percent-encodes the emoji');
  assert.deepEqual(discord.reactions(first.id), [], 'the running message gets no hourglass');
  assert.equal(llm.inFlight('cookie'), 1);

  llm.releaseNext('cookie');
  const removed = await discord.waitForCall((c) => c.method === 'DELETE' && c.path === `/channels/${channel}/messages/${second.id}/reactions/${HOURGLASS}/@me`, 'the hourglass removed');
  await llm.waitForPending(1, 5000, 'cookie');
  assert.ok(removed.seq > put.seq);
  llm.holdRequests = false;
  llm.releaseAll();
  assert.equal((await replyTo(f, first.id)).body.content, 'cookie says: remember A');
  assert.equal((await replyTo(f, second.id)).body.content, 'cookie says: remember B');
  assert.equal(llm.maxInFlight('cookie'), 1);

  // Typing stops with the last part: no refresh in the next four intervals.
  await f.server.delivery.idle();
  const typed = discord.typing(channel).length;
  await settle(400);
  assert.equal(discord.typing(channel).length, typed, 'no typing after the answer');
});

test('a MESSAGE_CREATE replayed by a RESUME is answered once; one missed meanwhile is answered', T, async (t) => {
  const f = await startDiscordServer(t);
  const { discord } = f;
  const first = discord.mention(discord.alice, 'first');
  await replyTo(f, first.id);
  // Close 4000 (unknown error): discord.js resumes. The fake replays `first` although the client saw it.
  discord.closeWith(4000, { replay: (d) => d.t === 'MESSAGE_CREATE' && d.d.id === first.id });
  const missed = discord.mention(discord.bob, 'sent while disconnected');
  await replyTo(f, missed.id);
  await f.server.delivery.idle();
  assert.equal(discord.resumes.length, 1, 'resumed');
  assert.equal(discord.identifies.length, 1, 'not re-identified');
  assert.equal(discord.posted().filter((c) => c.body?.message_reference?.message_id === first.id).length, 1, 'the replay was not answered again');
  assert.equal(f.llm.requests.length, 2);
  assert.ok(f.logs.some((l) => /seen before/.test(l.msg ?? '') && l.messageId === first.id), 'the adapter dropped the replay itself');
});

test('close 4014 at login: start fails with the Message Content fix, one error line, no reconnect', T, async (t) => {
  const f = await startDiscordServer(t, { discord: { messageContentIntent: false } });
  const errors = f.logsAtLeast(LEVEL.error);
  assert.equal(errors.length, 1, JSON.stringify(errors));
  assert.equal(f.logsAtLeast(LEVEL.warn).length, 1, 'and no warning besides it');
  const text = JSON.stringify(errors[0]);
  assert.match(text, /Message Content Intent/);
  assert.match(text, /Privileged Gateway Intents/);
  assert.match(text, /Developer Portal/);
  await settle();
  assert.equal(f.discord.identifies.length, 1, 'no second IDENTIFY');
  assert.equal(f.discord.connections, 1, 'no reconnect');
  // The rest of Brine keeps running.
  assert.ok(f.server.status().agents.pickle);
});

test('an invalid token: start fails telling to reset it; the gateway is never tried', T, async (t) => {
  const f = await startDiscordServer(t, { token: 'not-the-token' });
  const errors = f.logsAtLeast(LEVEL.error);
  assert.equal(errors.length, 1, JSON.stringify(errors));
  assert.match(JSON.stringify(errors[0]), /Reset Token/);
  assert.match(JSON.stringify(errors[0]), /DISCORD_BOT_TOKEN/);
  assert.equal(f.discord.connections, 0);
});

test('close 4004 while running: one error line, the client stops, no reconnect loop', T, async (t) => {
  const f = await startDiscordServer(t);
  f.discord.closeWith(4004);
  await until(() => f.logsAtLeast(LEVEL.error).length > 0, 'the error line');
  await settle();
  const errors = f.logsAtLeast(LEVEL.error);
  assert.equal(errors.length, 1, JSON.stringify(errors));
  assert.match(errors[0]?.msg ?? '', /Reset Token/);
  assert.equal(f.discord.connections, 1);
  assert.equal(f.discord.identifies.length, 1);
});

test('a message to a DM channel not seen since start (cron, post_message) is delivered: the channel is fetched', T, async (t) => {
  const f = await startDiscordServer(t);
  const { discord } = f;
  const dm = discord.dmChannelOf(discord.alice);
  await f.server.delivery.enqueue({ type: 'reply', replyTo: '', source: `platform-discord:${discord.alice.id}:${dm.id}`, content: 'your daily summary' });
  const posted = await discord.waitForCall((c) => c.method === 'POST' && c.path === `/channels/${dm.id}/messages`, 'the DM');
  assert.equal(posted.status, 200);
  assert.equal(posted.body.content, 'your daily summary');
  assert.equal(posted.body.message_reference, undefined, 'nothing to reply to');
  assert.equal(discord.callsTo('GET', new RegExp(`^/channels/${dm.id}$`)).length, 1, 'resolved with GET /channels/:id');
});

test('a 429 with Retry-After on POST messages is waited out by discord.js; the reply arrives once', T, async (t) => {
  const f = await startDiscordServer(t);
  const { discord } = f;
  discord.fail({ method: 'POST', path: MESSAGES, status: 429, retryAfterS: 0.2 });
  const message = discord.mention(discord.alice, 'rate limited?');
  const reply = await replyTo(f, message.id);
  await f.server.delivery.idle();
  assert.equal(reply.body.content, 'pickle says: rate limited?');
  assert.deepEqual(discord.callsTo('POST', MESSAGES).map((c) => c.status), [429, 200]);
  assert.equal(f.llm.requests.length, 1);
  assert.ok(!f.logs.some((l) => /delivery failed/.test(l.msg ?? '')), 'the delivery worker never saw a failure');
});

test('an unknown channel (404, 10003) fails the delivery for good, without retries', T, async (t) => {
  const f = await startDiscordServer(t);
  const { discord } = f;
  discord.fail({ method: 'POST', path: MESSAGES, status: 404, code: 10003, message: 'Unknown Channel' });
  discord.mention(discord.alice, 'anyone there?');
  await until(() => f.logs.some((l) => /delivery failed for good/.test(l.msg ?? '')), 'the delivery dropped');
  assert.deepEqual(discord.callsTo('POST', MESSAGES).map((c) => c.status), [404]);
  assert.equal(f.server.delivery.pendingCount, 0);
});

test('TypingIndicators: refreshed on an interval, stopped by stop() or the cap', async () => {
  const sent: string[] = [];
  const typing = new TypingIndicators({
    send: async (channel) => void sent.push(channel),
    onError: () => {},
    timing: { intervalMs: 10, maxMs: 60 },
  });
  typing.start('m1', 'c1');
  assert.equal(sent.length, 1, 'typing starts at once');
  await until(() => sent.length >= 3, 'two refreshes');
  typing.stop('m1');
  const stopped = sent.length;
  typing.start('m2', 'c2');
  await until(() => typing.active === 0, 'the cap');
  const capped = sent.length;
  await settle(50);
  assert.equal(sent.filter((c) => c === 'c1').length, stopped, 'nothing after stop()');
  assert.equal(sent.length, capped, 'nothing after the cap');
  assert.ok(capped - stopped >= 2, 'c2 was refreshed until the cap');
});
