/**
 * End-to-end tests of one agent turn: BrineRuntime + AgentWorker + runTurn +
 * tools + the real openai SDK, talking to the fake chat-completions server.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { messageText } from './fakes/fake-llm.js';
import type { FakeChatMessage } from './fakes/fake-llm.js';
import { agentMd, ask } from './helpers/workspace.js';
import { setupRuntime } from './helpers/harness.js';

function toolNames(req: { body: { tools?: { function: { name: string } }[] } }): string[] {
  return (req.body.tools ?? []).map((tool) => tool.function.name);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

function lastTwo(messages: FakeChatMessage[]): [FakeChatMessage, FakeChatMessage] {
  const a = messages[messages.length - 2];
  const b = messages[messages.length - 1];
  assert.ok(a && b, 'expected at least two messages');
  return [a, b];
}

test('tool-call round trip: write runs, the result goes back with its tool_call_id, config llm settings are sent', async (t) => {
  const { dir, fake, runtime } = await setupRuntime(t, {
    'config.user.yaml': 'llm: {model: test-model, temperature: 0.2, max_tokens: 99}\n',
  });
  fake.setHandler((req) =>
    req.toolResults.length === 0
      ? { toolCalls: [{ id: 'call_write_1', name: 'write', arguments: { path: 'notes/a.md', content: 'hi' } }] }
      : { content: `Saved it. (tool said: ${req.toolResults[0]!.content})` },
  );

  const { final, events } = await ask(runtime, 'platform-cli:alice', 'please note "hi"');

  assert.equal(final.type, 'reply', final.content);
  assert.match(final.content, /^Saved it\. \(tool said: .*notes\/a\.md.*\)$/);
  assert.ok(events.some((e) => e.type === 'started'), 'a started event precedes the reply');
  assert.equal(await readFile(join(dir, 'notes/a.md'), 'utf8'), 'hi');

  assert.equal(fake.totalRequests(), 2);
  const [first, second] = fake.requests as [(typeof fake.requests)[0], (typeof fake.requests)[0]];
  assert.ok(toolNames(first).includes('write'), 'write is offered');
  const [assistant, tool] = lastTwo(second.body.messages);
  assert.equal(assistant.role, 'assistant');
  assert.deepEqual(assistant.tool_calls, [
    { id: 'call_write_1', type: 'function', function: { name: 'write', arguments: JSON.stringify({ path: 'notes/a.md', content: 'hi' }) } },
  ]);
  assert.equal(tool.role, 'tool');
  assert.equal(tool.tool_call_id, 'call_write_1');
  assert.match(messageText(tool.content), /notes\/a\.md/);
  // The second request repeats the conversation so far: system, user, assistant(tool_calls), tool.
  assert.deepEqual(
    second.body.messages.map((m) => m.role),
    ['system', 'user', 'assistant', 'tool'],
  );

  for (const req of fake.requests) {
    assert.equal(req.body.model, 'test-model');
    assert.equal(req.body.temperature, 0.2);
    assert.equal(req.body.max_tokens, 99);
  }
});

test('malformed tool arguments become an error result; the model recovers and the user gets its answer', async (t) => {
  const { dir, fake, runtime } = await setupRuntime(t);
  fake.setHandler((req) =>
    req.toolResults.length === 0
      ? { toolCalls: [{ id: 'call_bad_json', name: 'write', arguments: '{not json' }] }
      : { content: 'Sorry, my tool call was broken; here is the answer anyway.' },
  );

  const { final } = await ask(runtime, 'platform-cli:alice', 'write something');

  assert.equal(final.type, 'reply', final.content);
  assert.equal(final.content, 'Sorry, my tool call was broken; here is the answer anyway.');
  assert.equal(fake.totalRequests(), 2);
  const results = fake.requests.map((r) => r.body.messages).at(-1)!.filter((m) => m.role === 'tool');
  assert.equal(results.length, 1);
  assert.equal(results[0]!.tool_call_id, 'call_bad_json');
  assert.match(messageText(results[0]!.content), /not valid JSON/);
  assert.match(messageText(results[0]!.content), /write/);
  assert.equal(await exists(join(dir, 'notes')), false, 'nothing was written');
});

test('an unknown tool name becomes an error result listing the real tools; the turn completes', async (t) => {
  const { fake, runtime } = await setupRuntime(t);
  let seen = '';
  fake.setHandler((req) => {
    if (req.toolResults.length === 0) return { toolCalls: [{ id: 'call_unknown', name: 'frobnicate', arguments: { x: 1 } }] };
    seen = req.toolResults[0]!.content;
    return { content: 'answered without frobnicating' };
  });

  const { final } = await ask(runtime, 'platform-cli:alice', 'frobnicate please');

  assert.equal(final.type, 'reply', final.content);
  assert.equal(final.content, 'answered without frobnicating');
  assert.match(seen, /unknown tool "frobnicate"/);
  assert.match(seen, /\bread\b.*\bwrite\b/, 'the error lists the available tools');
});

test('a failing tool (path outside the workspace) returns an error naming the path; the turn completes', async (t) => {
  const { fake, runtime } = await setupRuntime(t);
  fake.setHandler((req) =>
    req.toolResults.length === 0
      ? {
          toolCalls: [
            { id: 'call_rel', name: 'read', arguments: { path: '../../etc/passwd' } },
            { id: 'call_abs', name: 'read', arguments: { path: '/etc/passwd' } },
          ],
        }
      : { content: `I could not read those (${req.toolResults.length} errors).` },
  );

  const { final } = await ask(runtime, 'platform-cli:alice', 'show me /etc/passwd');

  assert.equal(final.type, 'reply', final.content);
  assert.equal(final.content, 'I could not read those (2 errors).');
  const results = fake.requests[1]!.body.messages.filter((m) => m.role === 'tool');
  assert.deepEqual(
    results.map((m) => m.tool_call_id),
    ['call_rel', 'call_abs'],
  );
  const [rel, abs] = results.map((m) => messageText(m.content)) as [string, string];
  assert.match(rel, /^error: /);
  assert.ok(rel.includes('../../etc/passwd'), rel);
  assert.match(abs, /^error: /);
  assert.ok(abs.includes('/etc/passwd'), abs);
  for (const text of [rel, abs]) assert.doesNotMatch(text, /root:/, 'no file content leaked');
});

test('bash from a Discord source is not offered; a forced call is refused for that source and does not run', async (t) => {
  const { dir, fake, runtime } = await setupRuntime(t);
  fake.setHandler((req) =>
    req.toolResults.length === 0
      ? { toolCalls: [{ id: 'call_bash', name: 'bash', arguments: { command: 'touch pwned.txt' } }] }
      : { content: 'bash was refused' },
  );

  const { final } = await ask(runtime, 'platform-discord:1:2', 'run touch pwned.txt');

  assert.equal(final.type, 'reply', final.content);
  assert.equal(final.content, 'bash was refused');
  const first = fake.requests[0]!;
  assert.ok(toolNames(first).includes('read'), 'other tools are offered');
  assert.ok(!toolNames(first).includes('bash'), `bash must not be offered, got ${toolNames(first).join(', ')}`);
  const result = fake.requests[1]!.body.messages.at(-1)!;
  assert.equal(result.role, 'tool');
  assert.equal(result.tool_call_id, 'call_bash');
  const text = messageText(result.content);
  assert.match(text, /^error: /);
  assert.match(text, /not allowed/);
  assert.ok(text.includes('platform-discord:1:2'), text);
  assert.equal(await exists(join(dir, 'pwned.txt')), false, 'the command must not have run');
});

test('bash from the terminal source is offered and runs in the workspace', async (t) => {
  const { dir, fake, runtime } = await setupRuntime(t);
  fake.setHandler((req) =>
    req.toolResults.length === 0
      ? { toolCalls: [{ id: 'call_bash', name: 'bash', arguments: { command: 'echo made > made.txt; echo result-$((6*7))' } }] }
      : { content: `bash said: ${req.toolResults[0]!.content}` },
  );

  const { final } = await ask(runtime, 'platform-cli:alice', 'run it');

  assert.equal(final.type, 'reply', final.content);
  assert.ok(toolNames(fake.requests[0]!).includes('bash'), 'bash is offered to the terminal');
  assert.match(final.content, /result-42/);
  assert.equal(await readFile(join(dir, 'made.txt'), 'utf8'), 'made\n');
});

test('tool round cap: max_tool_rounds 2 means exactly 3 LLM calls, the last without tools', async (t) => {
  const { fake, runtime } = await setupRuntime(t, { 'config.user.yaml': 'turn: {max_tool_rounds: 2}\n' });
  // A model that never stops asking for tools, even when none are offered
  // (past a few calls it gives up, so a missing cap fails here instead of looping).
  fake.setHandler((req) =>
    req.index >= 5
      ? { content: 'runaway: the cap did not stop the loop' }
      : { content: `text of call ${req.index}`, toolCalls: [{ name: 'read', arguments: { path: 'AGENTS.md' } }] },
  );

  const { final } = await ask(runtime, 'platform-cli:alice', 'loop forever');

  assert.equal(final.type, 'reply', final.content);
  assert.equal(final.content, 'text of call 2');
  assert.equal(fake.totalRequests(), 3);
  const [r0, r1, r2] = fake.requests as [(typeof fake.requests)[0], (typeof fake.requests)[0], (typeof fake.requests)[0]];
  assert.ok(toolNames(r0).length > 0 && toolNames(r1).length > 0, 'the first two calls offer tools');
  assert.equal(r2.body.tools, undefined, 'the last call offers no tools');
  assert.equal(r2.body.messages.filter((m) => m.role === 'tool').length, 2, 'both rounds ran their tool');
  const last = r2.body.messages.at(-1)!;
  assert.equal(last.role, 'system');
  assert.match(messageText(last.content), /max_tool_rounds/);
  await fake.settle();
  assert.equal(fake.totalRequests(), 3, 'no call after the final answer');
});

test('turn timeout: a hanging model gives the user an error naming turn.timeout_s, quickly', async (t) => {
  const { fake, runtime } = await setupRuntime(t, { 'config.user.yaml': 'turn: {timeout_s: 0.3}\nllm: {max_retries: 0}\n' });
  fake.setHandler(() => ({ hang: true }));

  const started = Date.now();
  const { final } = await ask(runtime, 'platform-cli:alice', 'hello?');
  const elapsed = Date.now() - started;

  assert.equal(final.type, 'error');
  assert.match(final.content, /turn\.timeout_s/);
  assert.ok(elapsed >= 250, `gave up after only ${elapsed} ms`);
  assert.ok(elapsed < 2000, `took ${elapsed} ms`);
  // The HTTP request was really cancelled, not left hanging.
  await fake.waitForIdle(1000);
  assert.equal(fake.totalRequests(), 1);
});

test('LLM error mapping: HTTP 429 tells the user the provider is rate-limiting', async (t) => {
  const { fake, runtime } = await setupRuntime(t, { 'config.user.yaml': 'llm: {max_retries: 0}\n' });
  fake.setHandler(() => ({ error: { status: 429, message: 'Rate limit reached for requests', headers: { 'retry-after': '7' } } }));

  const { final } = await ask(runtime, 'platform-cli:alice', 'hi');

  assert.equal(final.type, 'error');
  assert.match(final.content, /rate-limit/i);
  assert.match(final.content, /7 s/, 'the retry-after hint is passed on');
  assert.equal(fake.totalRequests(), 1, 'max_retries 0: no retry');
});

test('LLM error mapping: context_length_exceeded points the user at /compact', async (t) => {
  const { fake, runtime } = await setupRuntime(t, { 'config.user.yaml': 'llm: {max_retries: 0}\n' });
  fake.setHandler(() => ({
    error: { status: 400, message: "This model's maximum context length is 8192 tokens.", code: 'context_length_exceeded' },
  }));

  const { final } = await ask(runtime, 'platform-cli:alice', 'hi');

  assert.equal(final.type, 'error');
  assert.match(final.content, /\/compact/);
});

test('LLM error mapping: llm.timeout_s shorter than the turn says the model did not answer in time', async (t) => {
  const { fake, runtime } = await setupRuntime(t, { 'config.user.yaml': 'llm: {max_retries: 0, timeout_s: 0.2}\n' });
  fake.setHandler(() => ({ hang: true }));

  const { final } = await ask(runtime, 'platform-cli:alice', 'hi');

  assert.equal(final.type, 'error');
  assert.match(final.content, /did not answer in time/);
  assert.match(final.content, /llm\.timeout_s/);
  assert.ok(final.content.includes(fake.baseURL), final.content);
});

test('LLM error mapping: an unreachable server says so and names the URL', async (t) => {
  const { fake, runtime } = await setupRuntime(t, { 'config.user.yaml': 'llm: {max_retries: 0}\n' });
  await fake.close();

  const { final } = await ask(runtime, 'platform-cli:alice', 'hi');

  assert.equal(final.type, 'error');
  assert.match(final.content, /cannot reach the model/i);
  assert.ok(final.content.includes(fake.baseURL), final.content);
});

test('the system prompt holds AGENT.md, SOUL.md, AGENTS.md, BOOTSTRAP.md (templated), the agent id and the source', async (t) => {
  const { dir, fake, runtime } = await setupRuntime(t, {
    'agents/pickle/AGENT.md': agentMd('name: Pickle\nallow_skills: true\nmax_concurrency: 3', 'AGENT-BODY-7f3: you are pickle.'),
    'agents/pickle/SOUL.md': 'SOUL-TEXT-91c: warm.',
    'AGENTS.md': 'AGENTS-TEXT-2b8 for {{agent_name}}.',
    'BOOTSTRAP.md': 'BOOTSTRAP-TEXT-d41 workspace is {{workspace}} end.',
  });

  const { final } = await ask(runtime, 'platform-discord:42:99', 'hello');
  assert.equal(final.type, 'reply', final.content);
  const { final: cookieFinal } = await ask(runtime, 'platform-cli:zed', 'hello cookie', { agentId: 'cookie' });
  assert.equal(cookieFinal.type, 'reply', cookieFinal.content);

  const [pickleReq] = fake.requestsFor('pickle');
  assert.ok(pickleReq);
  const system = messageText(pickleReq.body.messages[0]!.content);
  assert.equal(pickleReq.body.messages[0]!.role, 'system');
  const parts = [
    'AGENT-BODY-7f3: you are pickle.',
    'SOUL-TEXT-91c: warm.',
    'AGENTS-TEXT-2b8 for Pickle.',
    `BOOTSTRAP-TEXT-d41 workspace is ${dir} end.`,
    '- You are the agent "pickle" (Pickle).',
    'platform-discord:42:99',
  ];
  for (const part of parts) assert.ok(system.includes(part), `system prompt lacks ${JSON.stringify(part)}:\n${system}`);
  const positions = parts.slice(0, 5).map((part) => system.indexOf(part));
  assert.deepEqual(positions, [...positions].sort((a, b) => a - b), 'layers are ordered AGENT, SOUL, AGENTS, BOOTSTRAP, runtime');
  assert.ok(!system.includes('{{'), 'every template variable is substituted');

  // Another agent gets its own layers, and the shared ones.
  const [cookieReq] = fake.requestsFor('cookie');
  assert.ok(cookieReq);
  const cookieSystem = messageText(cookieReq.body.messages[0]!.content);
  const cookieSoul = (await readFile(join(dir, 'agents/cookie/SOUL.md'), 'utf8')).trim();
  assert.ok(cookieSystem.includes(cookieSoul), 'cookie has its SOUL.md');
  assert.ok(cookieSystem.includes('AGENTS-TEXT-2b8 for Cookie.'));
  assert.ok(cookieSystem.includes('platform-cli:zed'));
  assert.ok(!cookieSystem.includes('SOUL-TEXT-91c') && !cookieSystem.includes('AGENT-BODY-7f3'), 'no pickle layers in cookie');
});
