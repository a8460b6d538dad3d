// The Slack channel end to end: a real BrineServer in-process (temp
// workspace, watch off), the real Bolt App (HTTPReceiver or
// SocketModeReceiver) against the fake Slack, and the real openai SDK against
// the fake LLM (in-flight keys = agent ids). Waits are on awaited facts (the
// fake's records, the channel's event outcomes, the LLM's parked requests),
// never on sleeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSlackChannel, HOURGLASS, SLACK_MAX_CHARS } from '../adapters/slack/index.js';
import { BrineError } from '../src/errors.js';
import { silentLogger } from '../src/logger.js';
import { APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, startSlackBrine } from './fakes/fake-slack-brine.js';
import { appMention, eventCallback, messageChanged, messageEvent, nextTs } from './fakes/fake-slack-events.js';
import { startFakeSlack } from './fakes/fake-slack.js';
import { messageText } from './fakes/fake-llm.js';

/** No test may hang: a broken path fails by timeout instead. */
const T = { timeout: 15_000 };

const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const GENERAL = 'C0GENERAL';

const settingsOf = () => ({ enabled: true, mode: 'http' as const, port: 0, require_mention: true, allowed_user_ids: [], allowed_channel_ids: [], api_url: null });

test('http: url_verification; a signed app_mention is acked before the LLM answers, and answered in its thread with unfurls off', T, async (t) => {
  const b = await startSlackBrine(t);
  const verified = await b.events.verifyUrl('challenge-xyz');
  assert.equal(verified.status, 200);
  assert.deepEqual(JSON.parse(verified.text), { challenge: 'challenge-xyz' });

  b.llm.holdRequests = true;
  const ts = nextTs();
  const body = eventCallback(appMention({ user: ALICE, channel: GENERAL, text: '<@UBOT> hello there', ts }));
  // Slack gives up after 3 s; the ack must come back while the model has not answered.
  const acked = await b.events.post(body);
  assert.equal(acked.status, 200);
  await b.llm.waitForPending(1);
  assert.equal(b.fakeSlack.posts.length, 0, 'no reply can exist while the model is held');
  assert.equal(b.llm.requests[0] && lastUserText(b.llm.requests[0].body.messages), 'hello there', 'the model sees the text without the mention');

  b.llm.holdRequests = false;
  b.llm.releaseAll();
  await b.fakeSlack.waitFor(() => b.fakeSlack.posts.length === 1, 'the reply');
  const [post] = b.fakeSlack.posts;
  assert.equal(post?.channel, GENERAL);
  assert.equal(post?.thread_ts, ts, 'in the thread of the mention');
  assert.equal(post?.text, 'pickle says: hello there');
  assert.equal(post?.unfurl_links, false);
  assert.equal(post?.unfurl_media, false);
  assert.equal(b.fakeSlack.callsOf('chat.postMessage')[0]?.token, BOT_TOKEN);

  // A mention inside that thread continues the same conversation (same source, same session).
  const reply = nextTs();
  await b.events.post(eventCallback(appMention({ user: ALICE, channel: GENERAL, text: '<@UBOT> and again', ts: reply, thread_ts: ts })));
  await b.fakeSlack.waitFor(() => b.fakeSlack.posts.length === 2, 'the reply in the thread');
  assert.equal(b.fakeSlack.posts[1]?.thread_ts, ts);
  const second = b.llm.requests[1]?.body.messages ?? [];
  assert.ok(second.some((m) => m.role === 'user' && messageText(m.content) === 'hello there'), 'the thread keeps its history');
});

test('http: a mention delivered as app_mention and as message is answered once (channel and DM)', T, async (t) => {
  const b = await startSlackBrine(t);
  const inChannel = { user: ALICE, channel: GENERAL, text: '<@UBOT> one question', ts: nextTs() };
  const inDm = { user: BOB, channel: 'D0BOB', text: '<@UBOT> another question', ts: nextTs() };
  const responses = await Promise.all([
    b.events.post(eventCallback(appMention(inChannel))),
    b.events.post(eventCallback(messageEvent({ ...inChannel, channel_type: 'channel' }))),
    b.events.post(eventCallback(messageEvent({ ...inDm, channel_type: 'im' }))),
    b.events.post(eventCallback(appMention(inDm))),
  ]);
  assert.deepEqual(responses.map((r) => r.status), [200, 200, 200, 200]);
  await b.waitForOutcomes(() => true, 4, 'all four events handled');
  const dmOutcomes = b.outcomes.filter((o) => o.messageId === `slack:D0BOB:${inDm.ts}`).map((o) => o.outcome).sort();
  assert.deepEqual(dmOutcomes, ['accepted', 'duplicate']);
  assert.deepEqual(b.outcomes.filter((o) => o.outcome === 'ignored').map((o) => o.reason), ['no_mention']);

  await b.fakeSlack.waitFor(() => b.fakeSlack.posts.length === 2, 'both replies');
  await b.server.delivery.idle();
  assert.equal(b.llm.totalRequests(), 2);
  assert.equal(b.fakeSlack.postsIn(GENERAL, inChannel.ts).length, 1);
  assert.equal(b.fakeSlack.postsIn('D0BOB', inDm.ts).length, 1);
});

test('http: retries of one event (same event_id), while it runs and after it is answered, cost one LLM call', T, async (t) => {
  const b = await startSlackBrine(t);
  b.llm.holdRequests = true;
  const ts = nextTs();
  const body = eventCallback(appMention({ user: ALICE, channel: GENERAL, text: '<@UBOT> slow question', ts }), { eventId: 'Ev0RETRY0001' });
  const id = `slack:${GENERAL}:${ts}`;
  assert.equal((await b.events.post(body)).status, 200);
  await b.llm.waitForPending(1);

  // Slack thought the first delivery failed and sends it again while the turn runs.
  assert.equal((await b.events.post(body, { retryNum: 1, retryReason: 'http_timeout' })).status, 200);
  await b.waitForOutcomes((o) => o.messageId === id, 2, 'the first retry handled');

  b.llm.holdRequests = false;
  b.llm.releaseAll();
  await b.fakeSlack.waitFor(() => b.fakeSlack.posts.length === 1, 'the reply');
  await b.server.delivery.idle();

  // And once more after the answer went out.
  assert.equal((await b.events.post(body, { retryNum: 2 })).status, 200);
  const seen = await b.waitForOutcomes((o) => o.messageId === id, 3, 'the second retry handled');
  assert.deepEqual(seen.map((o) => [o.outcome, o.retryNum, o.eventId]), [
    ['accepted', undefined, 'Ev0RETRY0001'],
    ['duplicate', 1, 'Ev0RETRY0001'],
    ['duplicate', 2, 'Ev0RETRY0001'],
  ]);
  assert.equal(b.llm.totalRequests(), 1);
  assert.equal(b.fakeSlack.posts.length, 1);
});

test('http: a badly signed or stale request gets 401 and starts no turn', T, async (t) => {
  const b = await startSlackBrine(t);
  const body = eventCallback(appMention({ user: ALICE, channel: GENERAL, text: '<@UBOT> forged', ts: nextTs() }));
  assert.equal((await b.events.post(body, { secret: 'not-the-secret' })).status, 401);
  assert.equal((await b.events.post(body, { signature: 'v0=0000' })).status, 401);
  // Older than 5 minutes: a replay, even with a valid signature.
  assert.equal((await b.events.post(body, { timestamp: Math.floor(Date.now() / 1000) - 600 })).status, 401);
  // The 401 is sent before Bolt dispatches anything: no listener ran.
  assert.deepEqual(b.outcomes, []);
  assert.equal(b.llm.totalRequests(), 0);
  assert.deepEqual(b.server.status().total.queued + b.server.status().total.running, 0);
});

test('http: message_changed (and other subtypes) are ignored', T, async (t) => {
  const b = await startSlackBrine(t);
  const ts = nextTs();
  await b.events.post(eventCallback(messageChanged({ user: ALICE, channel: 'D0ALICE', ts, newText: 'edited text' })));
  await b.events.post(eventCallback(messageEvent({ user: ALICE, channel: GENERAL, channel_type: 'channel', text: '<@ALICE> has joined the channel', subtype: 'channel_join' })));
  const ignored = await b.waitForOutcomes((o) => o.outcome === 'ignored', 2, 'both events handled');
  assert.deepEqual(ignored.map((o) => o.reason), ['subtype', 'subtype']);
  assert.equal(b.llm.totalRequests(), 0);
  assert.equal(b.fakeSlack.posts.length, 0);
});

test('http: a DM is answered in its thread; <!channel> and friends in the answer are posted escaped', T, async (t) => {
  const b = await startSlackBrine(t, { handler: () => ({ content: 'Attention <!channel> & <!here>: ask <@U0BOB>, see <https://evil.example|your bank>' }) });
  const ts = nextTs();
  await b.events.post(eventCallback(messageEvent({ user: ALICE, channel: 'D0ALICE', text: 'hi there', ts })));
  await b.fakeSlack.waitFor(() => b.fakeSlack.posts.length === 1, 'the reply');
  const [post] = b.fakeSlack.posts;
  assert.equal(post?.channel, 'D0ALICE');
  assert.equal(post?.thread_ts, ts);
  assert.equal(post?.text, 'Attention &lt;!channel&gt; &amp; &lt;!here&gt;: ask &lt;@U0BOB&gt;, see &lt;https://evil.example|your bank&gt;');
});

test('http: a reply over 4000 characters arrives as several posts, in order, in the thread', T, async (t) => {
  const lines = Array.from({ length: 260 }, (_, i) => `${String(i).padStart(3, '0')} ${'word '.repeat(7).trim()}`);
  const long = lines.join('\n');
  const b = await startSlackBrine(t, { handler: () => ({ content: long }) });
  const ts = nextTs();
  await b.events.post(eventCallback(appMention({ user: ALICE, channel: GENERAL, text: '<@UBOT> tell me everything', ts })));
  await b.llm.waitForRequests(1);
  await b.fakeSlack.waitFor(() => b.fakeSlack.posts.length >= 3, 'three posts');
  await b.server.delivery.idle();
  const posts = b.fakeSlack.postsIn(GENERAL, ts);
  assert.equal(posts.length, 3);
  for (const post of posts) assert.ok(post.text.length <= SLACK_MAX_CHARS, `post of ${post.text.length}`);
  assert.equal(posts.map((p) => p.text).join('\n'), long, 'in order, nothing lost');
});

test('http: while cookie is busy the second sender gets ⏳, removed when its turn starts', T, async (t) => {
  const config = ['routing:', '  bindings:', '    - { agent: cookie, value: "platform-slack:.*:C0COOKIE:.*" }', ''].join('\n');
  const b = await startSlackBrine(t, { files: { 'config.user.yaml': config } });
  b.llm.holdRequests = true;
  const first = nextTs();
  const second = nextTs();
  await b.events.post(eventCallback(appMention({ user: ALICE, channel: 'C0COOKIE', text: '<@UBOT> first', ts: first })));
  await b.llm.waitForPending(1, 5_000, 'cookie');
  await b.events.post(eventCallback(appMention({ user: BOB, channel: 'C0COOKIE', text: '<@UBOT> second', ts: second })));
  await b.fakeSlack.waitFor(() => b.fakeSlack.reactions.length === 1, 'the hourglass');
  assert.deepEqual(b.fakeSlack.reactions, [{ action: 'add', channel: 'C0COOKIE', timestamp: second, name: HOURGLASS }]);

  b.llm.holdRequests = false;
  b.llm.releaseAll();
  await b.fakeSlack.waitFor(() => b.fakeSlack.reactions.length === 2 && b.fakeSlack.posts.length === 2, 'the hourglass removed and both replies');
  assert.deepEqual(b.fakeSlack.reactions[1], { action: 'remove', channel: 'C0COOKIE', timestamp: second, name: HOURGLASS });
  assert.equal(b.fakeSlack.postsIn('C0COOKIE', first)[0]?.text, 'cookie says: first');
  assert.equal(b.fakeSlack.postsIn('C0COOKIE', second)[0]?.text, 'cookie says: second');
  assert.equal(b.llm.maxInFlight('cookie'), 1);
  // The first turn never waited: no reaction calls for it at all.
  assert.equal(b.fakeSlack.calls.filter((c) => c.method.startsWith('reactions.') && c.args.timestamp === first).length, 0);
});

test('http: allowlists refuse other users without an LLM call, and reload without a restart', T, async (t) => {
  const b = await startSlackBrine(t, { files: { 'config.user.yaml': 'channels:\n  slack:\n    allowed_user_ids: [U0ALICE]\n' } });
  await b.events.post(eventCallback(appMention({ user: BOB, channel: GENERAL, text: '<@UBOT> let me in', ts: nextTs() })));
  const [refused] = await b.waitForOutcomes((o) => o.outcome === 'ignored', 1, 'the refusal');
  assert.equal(refused?.reason, 'user_not_allowed');
  const aliceTs = nextTs();
  await b.events.post(eventCallback(appMention({ user: ALICE, channel: GENERAL, text: '<@UBOT> hi', ts: aliceTs })));
  await b.fakeSlack.waitFor(() => b.fakeSlack.posts.length === 1, "alice's reply");
  assert.equal(b.llm.totalRequests(), 1);
  assert.equal(b.fakeSlack.posts[0]?.thread_ts, aliceTs);

  await writeFile(join(b.workspace, 'config.user.yaml'), 'channels:\n  slack:\n    allowed_user_ids: []\n');
  await b.server.reload();
  await b.events.post(eventCallback(appMention({ user: BOB, channel: GENERAL, text: '<@UBOT> now?', ts: nextTs() })));
  await b.fakeSlack.waitFor(() => b.fakeSlack.posts.length === 2, "bob's reply after the reload");
  assert.equal(b.fakeSlack.posts[1]?.text, 'pickle says: now?');
});

test('http: channel_not_found drops the reply without retrying; a 429 with Retry-After is waited out', T, async (t) => {
  const b = await startSlackBrine(t);
  b.fakeSlack.failNext('chat.postMessage', { error: 'channel_not_found' });
  await b.events.post(eventCallback(appMention({ user: ALICE, channel: 'C0GONE', text: '<@UBOT> hello', ts: nextTs() })));
  await b.fakeSlack.waitFor(() => b.fakeSlack.callsOf('chat.postMessage').length === 1, 'the refused post');
  await b.server.delivery.idle();
  assert.equal(b.server.delivery.pendingCount, 0, 'dropped for good');
  assert.deepEqual(b.fakeSlack.callsOf('chat.postMessage').map((c) => c.result), ['channel_not_found']);

  b.fakeSlack.failNext('chat.postMessage', { status: 429, retryAfter: 0 });
  b.fakeSlack.failNext('chat.postMessage', { status: 503 });
  const ts = nextTs();
  await b.events.post(eventCallback(appMention({ user: ALICE, channel: GENERAL, text: '<@UBOT> again', ts })));
  await b.fakeSlack.waitFor(() => b.fakeSlack.posts.length === 1, 'the reply after the rate limit');
  assert.deepEqual(b.fakeSlack.callsOf('chat.postMessage').map((c) => c.result), ['channel_not_found', 'http 429', 'http 503', 'ok']);
  assert.equal(b.fakeSlack.posts[0]?.thread_ts, ts);
});

test('socket mode: an envelope is acked with its envelope_id and answered in the thread; stop closes the socket', T, async (t) => {
  const b = await startSlackBrine(t, { mode: 'socket' });
  assert.equal(b.fakeSlack.callsOf('apps.connections.open')[0]?.token, APP_TOKEN);
  b.llm.holdRequests = true;
  const ts = nextTs();
  const envelopeId = b.fakeSlack.sendEvent(eventCallback(appMention({ user: ALICE, channel: GENERAL, text: '<@UBOT> over the socket', ts })));
  const ack = await b.fakeSlack.waitForAck(envelopeId);
  assert.deepEqual(ack, { envelope_id: envelopeId, payload: {} });
  await b.llm.waitForPending(1);
  b.llm.releaseAll();
  await b.fakeSlack.waitFor(() => b.fakeSlack.posts.length === 1, 'the reply');
  assert.equal(b.fakeSlack.posts[0]?.thread_ts, ts);
  assert.equal(b.fakeSlack.posts[0]?.text, 'pickle says: over the socket');

  // A redelivery over the socket (retry_attempt) is acked and not answered again.
  const again = b.fakeSlack.sendEvent(eventCallback(appMention({ user: ALICE, channel: GENERAL, text: '<@UBOT> over the socket', ts })), { retryAttempt: 1, retryReason: 'timeout' });
  await b.fakeSlack.waitForAck(again);
  const [dup] = await b.waitForOutcomes((o) => o.outcome === 'duplicate', 1, 'the redelivery handled');
  assert.equal(dup?.retryNum, 1);

  await b.stop();
  await b.fakeSlack.waitFor(() => b.fakeSlack.openSockets === 0, 'the socket closed');
  assert.equal(b.llm.totalRequests(), 1);
});

test('a missing secret names its env var; a refused bot token fails start with a clear error', T, async (t) => {
  const base = { botToken: BOT_TOKEN, port: 0, apiUrl: null, settings: settingsOf };
  assert.throws(() => createSlackChannel({ ...base, botToken: '', mode: 'socket', appToken: APP_TOKEN }), (err: unknown) => err instanceof BrineError && /SLACK_BOT_TOKEN/.test(err.message));
  assert.throws(() => createSlackChannel({ ...base, mode: 'socket' }), (err: unknown) => err instanceof BrineError && /SLACK_APP_TOKEN/.test(err.message));
  assert.throws(() => createSlackChannel({ ...base, mode: 'http' }), (err: unknown) => err instanceof BrineError && /SLACK_SIGNING_SECRET/.test(err.message));

  const fake = await startFakeSlack({ botToken: 'xoxb-the-real-one' });
  t.after(() => fake.close());
  const channel = createSlackChannel({ ...base, mode: 'http', signingSecret: SIGNING_SECRET, host: '127.0.0.1', apiUrl: fake.apiUrl });
  await assert.rejects(channel.start({ accept: async () => true }, silentLogger()), (err: unknown) => err instanceof BrineError && err.code === 'slack_auth_failed' && /invalid_auth/.test(err.message) && /SLACK_BOT_TOKEN/.test(err.message));
  assert.equal(channel.url, undefined, 'nothing listens');
  await channel.stop();
});

function lastUserText(messages: { role: string; content?: unknown }[]): string {
  const users = messages.filter((m) => m.role === 'user');
  return messageText(users[users.length - 1]?.content as Parameters<typeof messageText>[0]);
}
