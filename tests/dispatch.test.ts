/**
 * End-to-end tests of `subagent_dispatch`: one agent's turn runs another agent
 * in a child session, through the real runtime, limiter and openai SDK.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { messageText } from './fakes/fake-llm.js';
import { agentMd, ask } from './helpers/workspace.js';
import { agentOf, readIndex, setupRuntime } from './helpers/harness.js';

/** Rejects if `promise` does not settle within `ms` (a deadlock shows up as a clear failure, not a hung suite). */
function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms (deadlock?)`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

test('pickle dispatches to cookie: cookie answers in an unbound child session and pickle relays the answer', async (t) => {
  const { dir, fake, runtime } = await setupRuntime(t);
  fake.setHandler((req) => {
    if (agentOf(req) === 'cookie') return { content: 'Stored: the user likes tuna (memories/topics/food.md).' };
    if (req.toolResults.length === 0) {
      return { toolCalls: [{ id: 'call_dispatch_1', name: 'subagent_dispatch', arguments: { agent_id: 'cookie', task: 'remember tuna' } }] };
    }
    return { content: `Purr, noted. Cookie says: ${req.toolResults[0]!.content}` };
  });

  const { final } = await ask(runtime, 'platform-cli:alice', 'remember that I like tuna');

  assert.equal(final.type, 'reply', final.content);
  assert.equal(final.content, 'Purr, noted. Cookie says: Stored: the user likes tuna (memories/topics/food.md).');
  assert.equal(final.agentId, 'pickle');

  assert.deepEqual(
    fake.requests.map((r) => r.key),
    ['pickle', 'cookie', 'pickle'],
  );
  const [cookieReq] = fake.requestsFor('cookie');
  assert.ok(cookieReq);
  const cookieSystem = messageText(cookieReq.body.messages[0]!.content);
  assert.ok(cookieSystem.includes('- You were dispatched by: pickle.'), `no dispatch chain line in:\n${cookieSystem}`);
  assert.ok(cookieSystem.includes('source "agent:pickle"'), 'the child turn runs as source agent:pickle');
  assert.deepEqual(
    cookieReq.body.messages.slice(1).map((m) => [m.role, messageText(m.content)]),
    [['user', 'remember tuna']],
    'cookie sees only the task, not pickle\'s conversation',
  );

  const pickleSecond = fake.requestsFor('pickle')[1]!;
  const result = pickleSecond.body.messages.at(-1)!;
  assert.equal(result.role, 'tool');
  assert.equal(result.tool_call_id, 'call_dispatch_1');
  assert.equal(messageText(result.content), 'Stored: the user likes tuna (memories/topics/food.md).');

  const index = await readIndex(dir);
  const userSessionId = index.sources['platform-cli:alice'];
  assert.ok(userSessionId);
  assert.equal(index.sessions[userSessionId]?.agentId, 'pickle');
  assert.equal(final.sessionId, userSessionId);
  const children = Object.values(index.sessions).filter((s) => s.source === 'agent:pickle');
  assert.equal(children.length, 1);
  const child = children[0]!;
  assert.equal(child.agentId, 'cookie');
  assert.equal(child.parent, userSessionId);
  assert.equal(index.sources['agent:pickle'], undefined, 'the child session is not bound to a source');
  assert.ok(!Object.values(index.sources).includes(child.id), 'no source points at the child session');

  // The user is still talking to pickle in the same session.
  const { final: session } = await ask(runtime, 'platform-cli:alice', '/session');
  assert.match(session.content, new RegExp(`^Session ${userSessionId}\\n`));
  assert.match(session.content, /agent: +pickle/);
  // The child session kept its own history.
  const childHistory = await runtime.sessions.load(child.id);
  assert.deepEqual(
    childHistory.map((e) => [e.role, e.content]),
    [
      ['user', 'remember tuna'],
      ['assistant', 'Stored: the user likes tuna (memories/topics/food.md).'],
    ],
  );
});

test('the subagent_dispatch tool lists the other agents with their descriptions', async (t) => {
  const { fake, runtime } = await setupRuntime(t, {
    'agents/walnut/AGENT.md': agentMd('name: Walnut\ndescription: Walnut-desc-5e1 does the accounts.'),
  });

  const { final } = await ask(runtime, 'platform-cli:alice', 'hi');
  assert.equal(final.type, 'reply', final.content);

  const tools = fake.requestsFor('pickle')[0]!.body.tools ?? [];
  const dispatch = tools.find((tool) => tool.function.name === 'subagent_dispatch');
  assert.ok(dispatch, `no subagent_dispatch among ${tools.map((tool) => tool.function.name).join(', ')}`);
  const description = dispatch.function.description ?? '';
  const cookieDesc = /^description: (.*)$/m.exec(await readFile(join(runtime.snapshot().root, 'agents/cookie/AGENT.md'), 'utf8'))?.[1];
  assert.ok(cookieDesc);
  assert.ok(description.includes(`cookie (Cookie): ${cookieDesc}`), description);
  assert.ok(description.includes('walnut (Walnut): Walnut-desc-5e1 does the accounts.'), description);
  assert.ok(!/\bpickle \(/.test(description), 'pickle does not list itself');
  const params = dispatch.function.parameters as { properties: { agent_id: { enum: string[] } }; required: string[] };
  assert.deepEqual([...params.properties.agent_id.enum].sort(), ['cookie', 'walnut']);
  assert.deepEqual(params.required, ['agent_id', 'task']);
});

test('a dispatch cycle pickle -> cookie -> pickle is refused with a tool error, without deadlock (both limits 1)', async (t) => {
  const { fake, runtime } = await setupRuntime(t, {
    'agents/pickle/AGENT.md': agentMd('name: Pickle\nmax_concurrency: 1', 'You are Pickle.'),
    'agents/cookie/AGENT.md': agentMd('name: Cookie\nmax_concurrency: 1', 'You are Cookie.'),
  });
  let cookieSaw = '';
  fake.setHandler((req) => {
    const me = agentOf(req);
    const other = me === 'pickle' ? 'cookie' : 'pickle';
    if (req.toolResults.length === 0) {
      return { toolCalls: [{ name: 'subagent_dispatch', arguments: { agent_id: other, task: `${me} asks ${other}` } }] };
    }
    if (me === 'cookie') cookieSaw = req.toolResults[0]!.content;
    return { content: `${me} done after: ${req.toolResults[0]!.content}` };
  });

  const { final } = await within(5000, ask(runtime, 'platform-cli:alice', 'start the cycle'), 'the cyclic dispatch');

  assert.equal(final.type, 'reply', final.content);
  assert.match(cookieSaw, /^error: /);
  assert.match(cookieSaw, /cycle/);
  assert.ok(cookieSaw.includes('pickle -> cookie -> pickle'), cookieSaw);
  assert.deepEqual(
    fake.requests.map((r) => r.key),
    ['pickle', 'cookie', 'cookie', 'pickle'],
    'the refused dispatch never reached the model',
  );
  assert.equal(final.content, `pickle done after: cookie done after: ${cookieSaw}`);
  // Everything was released: both agents idle, and the next message runs normally.
  assert.deepEqual(
    [runtime.limiter.stats('pickle').running, runtime.limiter.stats('cookie').running],
    [0, 0],
  );
  fake.setHandler(() => ({ content: 'still alive' }));
  const { final: next } = await within(2000, ask(runtime, 'platform-cli:alice', 'again'), 'the next turn');
  assert.equal(next.content, 'still alive');
});
