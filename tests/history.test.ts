/**
 * End-to-end tests of session history: persisted under .history/, resumed by
 * a new runtime, robust to a torn last line, one session per source.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { appendFile, readFile } from 'node:fs/promises';
import { messageText } from './fakes/fake-llm.js';
import type { FakeChatBody, FakeHandler } from './fakes/fake-llm.js';
import { chat, readIndex, setupHarness, type Harness } from './helpers/harness.js';

/** Like the real API: an assistant tool_calls message must be followed by a tool result for each call. */
function apiProblem(body: FakeChatBody): string | undefined {
  const messages = body.messages;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    if (m.role === 'tool') {
      const prev = messages.slice(0, i).reverse().find((x) => x.role !== 'tool');
      if (!prev?.tool_calls?.some((c) => c.id === m.tool_call_id)) return `tool message ${m.tool_call_id} answers no preceding tool call`;
    }
    if (m.role === 'assistant' && m.tool_calls && m.tool_calls.length > 0) {
      const answered = new Set<string>();
      for (let j = i + 1; j < messages.length && messages[j]!.role === 'tool'; j++) answered.add(messages[j]!.tool_call_id ?? '');
      const missing = m.tool_calls.filter((c) => !answered.has(c.id));
      if (missing.length > 0) return `tool_call_ids without a response: ${missing.map((c) => c.id).join(', ')}`;
    }
  }
  return undefined;
}

/** Echoes the last user message; rejects requests the real API would reject. */
const echo: FakeHandler = (req) => {
  const problem = apiProblem(req.body);
  if (problem) return { error: { status: 400, message: `Invalid messages: ${problem}` } };
  return { content: `reply to: ${req.lastUserMessage}` };
};

/** The conversation a request carries, without the system prompt, as `role: text` lines. */
function conversation(body: FakeChatBody): string[] {
  return body.messages.slice(1).map((m) => `${m.role}: ${messageText(m.content)}`);
}

function sessionIdOf(text: string): string {
  const id = /^Session (\S+)/.exec(text)?.[1];
  assert.ok(id, `no session id in ${JSON.stringify(text)}`);
  return id;
}

/** Fresh workspace + echo fake; runtimes are opened with `open()` and all closed after the test. */
function setup(t: TestContext): Promise<Harness> {
  return setupHarness(t, {}, { handler: echo });
}

test('history is persisted and resumed by a new runtime on the same workspace', async (t) => {
  const { fake, open } = await setup(t);
  const a = await open();
  assert.equal((await chat(a, 'platform-cli:bob', 'first message')).content, 'reply to: first message');
  assert.equal((await chat(a, 'platform-cli:bob', 'second message')).content, 'reply to: second message');
  const before = sessionIdOf((await chat(a, 'platform-cli:bob', '/session')).content);
  await a.close();

  const b = await open();
  assert.equal((await chat(b, 'platform-cli:bob', 'third message')).content, 'reply to: third message');

  assert.equal(fake.totalRequests(), 3, '/session never reaches the model');
  assert.deepEqual(conversation(fake.requests[2]!.body), [
    'user: first message',
    'assistant: reply to: first message',
    'user: second message',
    'assistant: reply to: second message',
    'user: third message',
  ]);
  const after = (await chat(b, 'platform-cli:bob', '/session')).content;
  assert.equal(sessionIdOf(after), before);
  assert.match(after, /messages: 6/);
});

test('a torn last line (a crash mid-append) does not break the next load, and later messages are still stored', async (t) => {
  const { fake, open } = await setup(t);
  const a = await open();
  await chat(a, 'platform-cli:bob', 'before crash');
  const session = await a.sessions.current('platform-cli:bob');
  assert.ok(session);
  const file = a.sessions.locationOf(session.id);
  await a.close();
  // The process died in the middle of writing a line: no newline at the end.
  await appendFile(file, '{"role":"assistant","content":"half-writ');

  const b = await open();
  assert.equal((await chat(b, 'platform-cli:bob', 'after crash')).content, 'reply to: after crash');
  assert.deepEqual(conversation(fake.requests.at(-1)!.body), ['user: before crash', 'assistant: reply to: before crash', 'user: after crash']);

  // The entries written after the fragment must not be glued to it (and so lost on the next load).
  await chat(b, 'platform-cli:bob', 'later');
  assert.deepEqual(conversation(fake.requests.at(-1)!.body), [
    'user: before crash',
    'assistant: reply to: before crash',
    'user: after crash',
    'assistant: reply to: after crash',
    'user: later',
  ]);
  assert.equal((await b.sessions.load(session.id)).length, 6, 'only the torn fragment is skipped');
});

test('an assistant tool call without its results is dropped from what the model sees; the text is kept', async (t) => {
  const { fake, open } = await setup(t);
  const runtime = await open();
  await chat(runtime, 'platform-cli:bob', 'please check the notes');
  const session = await runtime.sessions.current('platform-cli:bob');
  assert.ok(session);
  const file = runtime.sessions.locationOf(session.id);
  // A turn cut short after the model asked for tools: the results never made it to disk.
  const ts = new Date().toISOString();
  await appendFile(
    file,
    `${JSON.stringify({ role: 'user', content: 'and the todo list?', ts })}\n` +
      `${JSON.stringify({ role: 'assistant', content: 'Let me look at the todo list.', tool_calls: [{ id: 'call_lost', name: 'read', arguments: '{"path":"todo.md"}' }], ts })}\n` +
      `${JSON.stringify({ role: 'assistant', content: null, tool_calls: [{ id: 'call_lost_2', name: 'read', arguments: '{"path":"x.md"}' }], ts })}\n`,
  );

  assert.equal((await chat(runtime, 'platform-cli:bob', 'hello again')).content, 'reply to: hello again');

  const body = fake.requests.at(-1)!.body;
  assert.equal(apiProblem(body), undefined);
  assert.ok(!body.messages.some((m) => m.tool_calls && m.tool_calls.length > 0), 'no unanswered tool call is sent');
  assert.deepEqual(conversation(body), [
    'user: please check the notes',
    'assistant: reply to: please check the notes',
    'user: and the todo list?',
    'assistant: Let me look at the todo list.',
    'user: hello again',
  ]);
  // The file itself is left as it was (history is append-only).
  assert.match(await readFile(file, 'utf8'), /call_lost_2/);
});

test('different sources get different sessions and never see each other\'s messages', async (t) => {
  const { dir, fake, open } = await setup(t);
  const runtime = await open();
  await chat(runtime, 'platform-cli:alice', 'alice secret 1');
  await chat(runtime, 'platform-cli:bob', 'bob hello');
  await chat(runtime, 'platform-discord:7:8', 'discord hello');
  await chat(runtime, 'platform-cli:alice', 'alice 2');

  const ids = await Promise.all(
    ['platform-cli:alice', 'platform-cli:bob', 'platform-discord:7:8'].map(async (s) => sessionIdOf((await chat(runtime, s, '/session')).content)),
  );
  assert.equal(new Set(ids).size, 3, `sessions: ${ids.join(', ')}`);

  const index = await readIndex(dir);
  assert.deepEqual(index.sources, { 'platform-cli:alice': ids[0], 'platform-cli:bob': ids[1], 'platform-discord:7:8': ids[2] });

  const [, bobReq, discordReq, aliceReq] = fake.requests;
  assert.deepEqual(conversation(bobReq!.body), ['user: bob hello']);
  assert.deepEqual(conversation(discordReq!.body), ['user: discord hello']);
  assert.deepEqual(conversation(aliceReq!.body), ['user: alice secret 1', 'assistant: reply to: alice secret 1', 'user: alice 2']);
});
