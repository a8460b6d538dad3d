/**
 * End-to-end tests of the context guard: `/compact`, automatic compaction
 * before a turn, and truncation of old tool results before summarizing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { messageText } from './fakes/fake-llm.js';
import type { FakeChatBody, FakeRequest } from './fakes/fake-llm.js';
import { agentMd, ask } from './helpers/workspace.js';
import { agentOf, chat, readIndex, setupRuntime, type RuntimeHarness } from './helpers/harness.js';

const SUMMARY_TEXT = 'SUMMARY-3c9: carol likes tuna and asked about the garden.';

/** 'summary' for the context guard's summary request, else the agent named in the system prompt. */
function keyOf(req: FakeRequest): string {
  if (req.systemPrompt.startsWith('Summarize the conversation')) return 'summary';
  return agentOf(req);
}

/** Fresh workspace + fake (summaries keyed 'summary' and answered with SUMMARY_TEXT) + runtime; closed after the test. */
function setup(t: TestContext, files: Record<string, string>): Promise<RuntimeHarness> {
  return setupRuntime(t, files, {
    classify: keyOf,
    handler: (req) => (keyOf(req) === 'summary' ? { content: SUMMARY_TEXT } : { content: `reply to: ${req.lastUserMessage.slice(0, 40)}` }),
  });
}

function allText(body: FakeChatBody): string {
  return body.messages.map((m) => messageText(m.content)).join('\n');
}

/** Small prompt layers, so the context figures are dominated by the conversation. */
const SMALL_LAYERS = {
  'agents/pickle/AGENT.md': agentMd('name: Pickle\nmax_concurrency: 3', 'You are Pickle.'),
  'agents/pickle/SOUL.md': 'Warm.',
  'AGENTS.md': 'Agents share {{workspace}}.',
  'BOOTSTRAP.md': 'Be brief.',
};

test('/compact summarizes older messages into a new session that the source now uses', async (t) => {
  const { dir, fake, runtime } = await setup(t, { 'config.user.yaml': 'context: {keep_recent_messages: 2}\n' });
  const source = 'platform-cli:carol';
  for (let i = 1; i <= 5; i++) await chat(runtime, source, `msg ${i}`);
  const oldId = (await runtime.sessions.current(source))?.id;
  assert.ok(oldId);
  assert.equal((await runtime.sessions.load(oldId)).length, 10);
  assert.equal(fake.totalRequests('summary'), 0);

  const compacted = await chat(runtime, source, '/compact');

  assert.equal(fake.totalRequests('summary'), 1, 'one summary request');
  assert.equal(fake.totalRequests(), 6, 'and nothing else');
  const summaryReq = fake.requestsFor('summary')[0]!;
  assert.equal(summaryReq.body.tools, undefined);
  const transcript = messageText(summaryReq.body.messages.at(-1)!.content);
  for (let i = 1; i <= 4; i++) assert.ok(transcript.includes(`msg ${i}`), `transcript lacks msg ${i}:\n${transcript}`);
  assert.ok(!transcript.includes('msg 5'), 'the recent messages are kept, not summarized');

  const index = await readIndex(dir);
  const newId = index.sources[source];
  assert.ok(newId && newId !== oldId, 'the source points at a new session');
  assert.match(compacted.content, new RegExp(`Compacted 8 older messages.*${newId}`));
  assert.equal(index.sessions[newId]?.previous, oldId);
  assert.equal(index.sessions[newId]?.agentId, 'pickle');
  await access(runtime.sessions.locationOf(oldId));
  assert.equal((await runtime.sessions.load(oldId)).length, 10, 'the old history is kept as it was');

  const seeded = await runtime.sessions.load(newId);
  assert.equal(seeded[0]?.role, 'system');
  assert.equal(seeded[0]?.kind, 'summary');
  assert.ok(seeded[0]?.content?.includes(SUMMARY_TEXT));
  assert.deepEqual(
    seeded.slice(1).map((e) => e.content),
    ['msg 5', 'reply to: msg 5'],
  );

  const next = await chat(runtime, source, 'msg 6');
  assert.equal(next.sessionId, newId);
  const body = fake.requests.at(-1)!.body;
  const text = allText(body);
  assert.ok(text.includes(SUMMARY_TEXT), 'the summary is in the next request');
  for (const gone of ['msg 1', 'msg 2', 'msg 3', 'msg 4']) assert.ok(!text.includes(gone), `${gone} should be summarized away`);
  assert.deepEqual(
    body.messages.slice(2).map((m) => `${m.role}: ${messageText(m.content)}`),
    ['user: msg 5', 'assistant: reply to: msg 5', 'user: msg 6'],
  );
});

test('automatic: a turn over window_tokens * compact_ratio compacts first, then answers', async (t) => {
  const { dir, fake, runtime } = await setup(t, {
    ...SMALL_LAYERS,
    'config.user.yaml': 'context: {window_tokens: 2000, compact_ratio: 0.5, keep_recent_messages: 2}\n',
  });
  // Control: short messages stay under the 1000-token threshold and never compact.
  for (const content of ['short one', 'short two', 'short three']) await chat(runtime, 'platform-cli:short', content);
  assert.equal(fake.totalRequests('summary'), 0, 'no compaction under the threshold');

  const source = 'platform-cli:long';
  const longA = `LONG-A ${'apples '.repeat(400)}`; // ~2800 chars, ~700 tokens
  const longB = `LONG-B ${'bananas '.repeat(350)}`;
  const first = await chat(runtime, source, longA);
  await chat(runtime, source, longB); // over the threshold already, but all of it is the recent turn: nothing to summarize
  assert.equal(fake.totalRequests('summary'), 0);
  const usage = await chat(runtime, source, '/context');
  assert.match(usage.content, /compaction starts at 1000/);
  const before = fake.totalRequests();

  const reply = await chat(runtime, source, 'what did I say?');

  assert.equal(reply.content, 'reply to: what did I say?');
  assert.deepEqual(
    fake.requests.slice(before).map((r) => r.key),
    ['summary', 'pickle'],
    'one summary request, before the chat request',
  );
  const transcript = messageText(fake.requestsFor('summary')[0]!.body.messages.at(-1)!.content);
  assert.ok(transcript.includes('LONG-A') && !transcript.includes('LONG-B'), 'the older turn is summarized, the recent one kept');
  const chatBody = fake.requests.at(-1)!.body;
  const text = allText(chatBody);
  assert.ok(text.includes(SUMMARY_TEXT));
  assert.ok(!text.includes('LONG-A'), 'the summarized turn is no longer sent');
  assert.ok(text.includes('LONG-B'), 'the recent turn is still sent');

  assert.ok(reply.sessionId && reply.sessionId !== first.sessionId, 'the turn continued in a new session');
  const index = await readIndex(dir);
  assert.equal(index.sources[source], reply.sessionId);
  assert.equal(index.sessions[reply.sessionId]?.previous, first.sessionId);
  const history = await runtime.sessions.load(reply.sessionId);
  assert.deepEqual(
    history.map((e) => e.role),
    ['system', 'user', 'assistant', 'user', 'assistant'],
    'summary, the kept turn, then this turn',
  );
});

/** A workspace whose first turns read a 50k-character file into the history. */
async function historyWithHugeToolResult(t: TestContext) {
  const env = await setup(t, {
    ...SMALL_LAYERS,
    'config.user.yaml': 'context: {keep_recent_messages: 2, max_tool_result_chars: 60000}\n',
    'big.txt': `${'x'.repeat(50_000)}TAIL-MARKER-8d2`,
  });
  const { fake, runtime } = env;
  fake.setHandler((req) => {
    if (keyOf(req) === 'summary') return { content: SUMMARY_TEXT };
    if (req.lastUserMessage === 'read big' && req.toolResults.length === 0) return { toolCalls: [{ id: 'call_big', name: 'read', arguments: { path: 'big.txt' } }] };
    return { content: `reply to: ${req.lastUserMessage.slice(0, 40)}` };
  });
  await chat(runtime, 'platform-cli:dana', 'read big');
  const seen = fake.requests[1]!.body.messages.at(-1)!;
  assert.equal(seen.role, 'tool');
  assert.ok(messageText(seen.content).endsWith('TAIL-MARKER-8d2'), 'the model saw the whole file when it asked');
  return env;
}

test('truncation: a huge old tool result is cut before anything is summarized', async (t) => {
  const { dir, fake, runtime } = await historyWithHugeToolResult(t);
  await chat(runtime, 'platform-cli:dana', 'second');
  // Tighten the window: 50k chars are ~12.5k tokens, over 8000; cut to 1000 chars they fit.
  await writeFile(join(dir, 'config.user.yaml'), 'context: {keep_recent_messages: 2, max_tool_result_chars: 60000, window_tokens: 16000, compact_ratio: 0.5}\n');
  assert.deepEqual(await runtime.reload(), []);
  const before = fake.totalRequests();

  const reply = await chat(runtime, 'platform-cli:dana', 'third');

  assert.equal(reply.content, 'reply to: third');
  assert.deepEqual(
    fake.requests.slice(before).map((r) => r.key),
    ['pickle'],
    'truncating was enough: no summary request',
  );
  const tool = fake.requests.at(-1)!.body.messages.find((m) => m.role === 'tool');
  assert.ok(tool, 'the old tool result is still there, shortened');
  const text = messageText(tool.content);
  assert.ok(text.length < 2000, `tool result still ${text.length} chars`);
  assert.match(text, /\[truncated: \d+ more characters\]/);
  assert.ok(!text.includes('TAIL-MARKER-8d2'));
});

test('truncation happens before summarizing: the summary request gets the cut tool result, not 50k chars', async (t) => {
  const { dir, fake, runtime } = await historyWithHugeToolResult(t);
  await chat(runtime, 'platform-cli:dana', `second ${'words '.repeat(800)}`); // ~4k chars, in the recent turn
  // Threshold 1000 tokens: over even after truncating, so the guard must summarize.
  await writeFile(join(dir, 'config.user.yaml'), 'context: {keep_recent_messages: 2, max_tool_result_chars: 60000, window_tokens: 2000, compact_ratio: 0.5}\n');
  assert.deepEqual(await runtime.reload(), []);
  const before = fake.totalRequests();

  const reply = await chat(runtime, 'platform-cli:dana', 'third');

  assert.equal(reply.content, 'reply to: third');
  assert.deepEqual(
    fake.requests.slice(before).map((r) => r.key),
    ['summary', 'pickle'],
  );
  const transcript = messageText(fake.requestsFor('summary')[0]!.body.messages.at(-1)!.content);
  assert.ok(transcript.includes('read big'), 'the old turn is in the transcript');
  assert.match(transcript, /\[truncated: \d+ more characters\]/);
  assert.ok(!transcript.includes('TAIL-MARKER-8d2'));
  assert.ok(transcript.length < 5000, `transcript is ${transcript.length} chars`);
});

test(
  'keep_recent_messages: 0 summarizes the whole conversation',
  async (t) => {
    const { runtime } = await setup(t, { 'config.user.yaml': 'context: {keep_recent_messages: 0}\n' });
    const source = 'platform-cli:erin';
    for (const content of ['one', 'two', 'three']) await chat(runtime, source, content);

    const compacted = await chat(runtime, source, '/compact');

    assert.match(compacted.content, /Compacted 6 older messages/);
    const current = await runtime.sessions.current(source);
    assert.ok(current);
    assert.deepEqual(
      (await runtime.sessions.load(current.id)).map((e) => e.kind ?? e.role),
      ['summary'],
    );
  },
);

test(
  '/compact while a turn of the same source is running waits for it and does not lose its reply',
  async (t) => {
    const { fake, runtime } = await setup(t, { 'config.user.yaml': 'context: {keep_recent_messages: 2}\n' });
    const source = 'platform-cli:fay';
    for (const content of ['one', 'two']) await chat(runtime, source, content);

    fake.holdRequests = true;
    const running = ask(runtime, source, 'three');
    await fake.waitForPending(1, 2000, 'pickle');
    // /compact replaces the session, so it waits for the source's running turn.
    const compacting = ask(runtime, source, '/compact');
    await fake.settle();
    assert.equal(fake.totalRequests('summary'), 0, '/compact must wait for the running turn');
    fake.holdRequests = false;
    fake.releaseAll();
    const { final: three } = await running;
    assert.equal(three.content, 'reply to: three');
    const { final: compacted } = await compacting;
    assert.equal(compacted.type, 'reply', compacted.content);
    assert.equal(fake.totalRequests('summary'), 1);

    await chat(runtime, source, 'four');
    const lines = fake.requests.at(-1)!.body.messages.slice(1).map((m) => `${m.role}: ${messageText(m.content)}`);
    assert.deepEqual(lines.slice(-3), ['user: three', 'assistant: reply to: three', 'user: four']);
  },
);
