/**
 * A subagent dispatch never deadlocks (DESIGN.md section 4, issue 5): Pickle
 * (limit 1) dispatching to Cookie (limit 1) while Cookie dispatches back to
 * Pickle finishes or is refused with a clear tool error; a dispatch that
 * waits too long gets a timeout error. The same-chain cycle
 * pickle -> cookie -> pickle is covered in tests/dispatch.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FakeRecordedRequest } from './fakes/fake-llm.js';
import { messageText } from './fakes/fake-llm.js';
import { agentMd, ask } from './helpers/workspace.js';
import { agentOf, setupRuntime } from './helpers/harness.js';
import type { BrineRuntime } from '../src/runtime.js';
import { AdmissionController, DispatchDeadlockError, Priority, type Admission } from '../src/concurrency/admission.js';

const T = { timeout: 20_000 };

const LIMIT_1 = {
  'agents/pickle/AGENT.md': agentMd('name: Pickle\nmax_concurrency: 1', 'You are Pickle.'),
  'agents/cookie/AGENT.md': agentMd('name: Cookie\nmax_concurrency: 1', 'You are Cookie.'),
};

/** Rejects if `promise` does not settle within `ms` (a deadlock is a clear failure, not a hung suite). */
function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms (deadlock?)`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Text of the tool results at the end of a recorded request. */
function toolResults(req: FakeRecordedRequest): string[] {
  const out: string[] = [];
  for (const m of [...req.body.messages].reverse()) {
    if (m.role !== 'tool') break;
    out.unshift(messageText(m.content));
  }
  return out;
}

function assertIdle(runtime: BrineRuntime, ...agents: string[]): void {
  for (const agent of agents) {
    const s = runtime.limiter.stats(agent);
    assert.deepEqual([s.running, s.queued], [0, 0], `${agent}: running, queued`);
    assert.equal(runtime.limiter.available(agent), s.limit, `${agent}: free permits`);
  }
  const total = runtime.limiter.totalStats();
  assert.deepEqual([total.running, total.queued], [0, 0], 'total: running, queued');
}

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

test('pickle -> cookie while cookie -> pickle (both limit 1, started together): both turns end, one dispatch is refused as a deadlock, nothing hangs', T, async (t) => {
  const { fake, runtime } = await setupRuntime(t, LIMIT_1);
  fake.setHandler((req) => {
    const me = agentOf(req);
    const other = me === 'pickle' ? 'cookie' : 'pickle';
    // A dispatched child just answers.
    if (req.lastUserMessage.startsWith('task from')) return { content: `${me} did "${req.lastUserMessage}"` };
    if (req.toolResults.length === 0) {
      return { toolCalls: [{ name: 'subagent_dispatch', arguments: { agent_id: other, task: `task from ${me}` } }] };
    }
    return { content: `${me} finished after: ${req.toolResults[0]!.content}` };
  });
  assert.equal((await runtime.sessionFor('platform-cli:alice', 'pickle')).agentId, 'pickle');
  assert.equal((await runtime.sessionFor('platform-cli:bob', 'cookie')).agentId, 'cookie');

  // Both parked on their first model call, each holding its agent's only permit.
  const release = fake.gate();
  const alice = ask(runtime, 'platform-cli:alice', 'pickle, ask cookie');
  const bob = ask(runtime, 'platform-cli:bob', 'cookie, ask pickle', { agentId: 'cookie' });
  await fake.waitForPending(1, 5000, 'pickle');
  await fake.waitForPending(1, 5000, 'cookie');
  assert.deepEqual([runtime.limiter.stats('pickle').running, runtime.limiter.stats('cookie').running], [1, 1]);
  release();

  const [a, b] = await within(5000, Promise.all([alice, bob]), 'the crossed dispatches');
  assert.equal(a.final.type, 'reply', a.final.content);
  assert.equal(b.final.type, 'reply', b.final.content);

  // The second request of each user turn carries its dispatch's result.
  const results = fake.requests.filter((r) => toolResults(r).length > 0).map((r) => [r.key, toolResults(r)[0]!] as const);
  assert.equal(results.length, 2, JSON.stringify(results));
  const refused = results.filter(([, text]) => /^error: dispatch refused\b/.test(text));
  assert.equal(refused.length, 1, `exactly one dispatch refused: ${JSON.stringify(results)}`);
  const [refusedAgent, refusedText] = refused[0]!;
  assert.match(refusedText, /deadlock/);
  assert.ok(refusedText.includes(refusedAgent === 'pickle' ? 'cookie is busy' : 'pickle is busy'), refusedText);
  const [okAgent, okText] = results.find(([agent]) => agent !== refusedAgent)!;
  assert.equal(okText, `${refusedAgent} did "task from ${okAgent}"`, 'the other dispatch ran once its target was free');
  // The refused dispatch never reached the model: one child turn only.
  assert.equal(fake.requests.filter((r) => r.body.messages.some((m) => m.role === 'user' && messageText(m.content).startsWith('task from'))).length, 1);
  assert.equal(fake.maxInFlight('pickle'), 1);
  assert.equal(fake.maxInFlight('cookie'), 1);
  assertIdle(runtime, 'pickle', 'cookie');

  // And both agents work normally afterwards.
  fake.setHandler(() => ({ content: 'still fine' }));
  assert.equal((await within(2000, ask(runtime, 'platform-cli:alice', 'again'), 'the next turn')).final.content, 'still fine');
  assertIdle(runtime, 'pickle', 'cookie');
});

test('a dispatch that waits longer than concurrency.dispatch_timeout_s gets a tool error saying cookie stayed busy', T, async (t) => {
  const { fake, runtime } = await setupRuntime(t, { 'config.user.yaml': 'concurrency:\n  dispatch_timeout_s: 0.3\n' });
  fake.setHandler((req) => {
    const me = agentOf(req);
    if (me === 'cookie') return { content: `cookie answered ${req.lastUserMessage}` };
    if (req.toolResults.length === 0) return { toolCalls: [{ name: 'subagent_dispatch', arguments: { agent_id: 'cookie', task: 'remember tuna' } }] };
    return { content: `pickle relays: ${req.toolResults[0]!.content}` };
  });
  assert.equal((await runtime.sessionFor('platform-cli:bob', 'cookie')).agentId, 'cookie');
  assert.equal(runtime.limiter.stats('cookie').limit, 1);

  fake.gate();
  // Another user's turn keeps cookie busy, parked in the fake.
  const bob = ask(runtime, 'platform-cli:bob', 'a long cookie job', { agentId: 'cookie' });
  await fake.waitForPending(1, 5000, 'cookie');
  const alice = ask(runtime, 'platform-cli:alice', 'remember tuna');
  await fake.waitForPending(1, 5000, 'pickle');
  const dispatchedAt = Date.now();
  assert.ok(fake.releaseNext('pickle'));

  // Pickle's next model call carries the dispatch's result: a timeout error.
  await fake.waitForRequests(2, 2000, 'pickle');
  const waited = Date.now() - dispatchedAt;
  assert.ok(waited >= 250 && waited < 2000, `the dispatch gave up after ${waited} ms (dispatch_timeout_s 0.3)`);
  const [result] = toolResults(fake.requestsFor('pickle')[1]!);
  assert.ok(result);
  assert.match(result, /^error: cookie stayed busy\b/);
  assert.equal(fake.totalRequests('cookie'), 1, 'the dispatch never reached the model');
  assert.equal(fake.pending('cookie'), 1, 'bob\'s turn still holds cookie');

  fake.holdRequests = false;
  fake.releaseAll();
  const [a, b] = await within(5000, Promise.all([alice, bob]), 'both turns');
  assert.equal(a.final.type, 'reply');
  assert.match(a.final.content, /^pickle relays: error: cookie stayed busy/);
  assert.equal(b.final.content, 'cookie answered a long cookie job');
  assertIdle(runtime, 'pickle', 'cookie');
});

test(
  'max_total 1: pickle\'s dispatch to an idle cookie runs although another user\'s cookie turn waits for the total slot',
  T,
  async (t) => {
    const { fake, runtime } = await setupRuntime(t, { 'config.user.yaml': 'concurrency:\n  max_total: 1\n  dispatch_timeout_s: 0.5\n' });
    fake.setHandler((req) => {
      const me = agentOf(req);
      if (me === 'cookie') return { content: `cookie answered ${req.lastUserMessage}` };
      if (req.toolResults.length === 0) return { toolCalls: [{ name: 'subagent_dispatch', arguments: { agent_id: 'cookie', task: 'remember tuna' } }] };
      return { content: `pickle relays: ${req.toolResults[0]!.content}` };
    });
    assert.equal((await runtime.sessionFor('platform-cli:bob', 'cookie')).agentId, 'cookie');
    fake.gate();
    const alice = ask(runtime, 'platform-cli:alice', 'remember tuna');
    await fake.waitForPending(1, 5000, 'pickle');
    let bobQueued!: () => void;
    const queued = new Promise<void>((r) => (bobQueued = r));
    const off = runtime.bus.on('outbound', (e) => {
      if (e.source === 'platform-cli:bob' && e.type === 'queued') bobQueued();
    });
    const bob = ask(runtime, 'platform-cli:bob', 'a cookie job', { agentId: 'cookie' });
    await queued;
    off();
    fake.holdRequests = false;
    fake.releaseAll();
    const [a, b] = await within(5000, Promise.all([alice, bob]), 'both turns');
    assert.equal(b.final.type, 'reply');
    assert.equal(a.final.content, 'pickle relays: cookie answered remember tuna', 'the child ran instead of timing out');
  },
);

// ---------------------------------------------------------------------------
// On the admission policy directly
// ---------------------------------------------------------------------------

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A root run that holds its permits until `hold` resolves, exposing its admission. */
function root(controller: AdmissionController, agentId: string, source: string) {
  const hold = deferred();
  let admission: Admission | undefined;
  const done = controller.run({ agentId, source, priority: Priority.user }, async (a) => {
    admission = a;
    await hold.promise;
  });
  return { hold, done, admission: () => admission };
}

test(
  'a dispatch is not starved by a root that holds the target agent while it waits for max_total',
  T,
  async () => {
    const controller = new AdmissionController({ maxTotal: 1, perSource: 0, queueLimit: 100 });
    controller.setLimit('pickle', 1);
    controller.setLimit('cookie', 1);
    const p = root(controller, 'pickle', 'platform-cli:alice');
    await flush();
    // bob's cookie turn: waits for max_total (pickle's turn holds the only slot).
    const bob = root(controller, 'cookie', 'platform-cli:bob');
    await flush();
    assert.equal(bob.admission(), undefined, 'bob waits');
    // pickle's turn dispatches to cookie, which runs nothing.
    const abort = new AbortController();
    let childRan = false;
    const child = controller
      .run({ agentId: 'cookie', source: 'agent:pickle', priority: Priority.user, parent: p.admission()!, signal: abort.signal }, async () => {
        childRan = true;
      })
      .catch((err: unknown) => err);
    await flush();
    const ran = childRan;
    // Clean up whatever happened: the simulated dispatch timeout, then everybody finishes.
    abort.abort(new Error('dispatch timeout'));
    await child;
    p.hold.resolve();
    bob.hold.resolve();
    await Promise.all([p.done, bob.done]);
    assert.ok(ran, 'the child of the running root ran (or was refused) instead of waiting for its timeout');
  },
);

test(
  'the deadlock check still sees a parent that dispatches to two agents at once (turn.ts runs tool calls in parallel)',
  T,
  async () => {
    const controller = new AdmissionController({ maxTotal: 100, perSource: 0, queueLimit: 100 });
    for (const agent of ['pickle', 'cookie', 'walnut']) controller.setLimit(agent, 1);
    const p = root(controller, 'pickle', 'platform-cli:alice');
    const w = root(controller, 'walnut', 'platform-cli:bob');
    await flush();
    const aborts = new AbortController();
    const children: Promise<unknown>[] = [];
    const dispatch = (parent: Admission, agentId: string) => {
      const out = { ran: false, error: undefined as unknown };
      children.push(
        controller
          .run({ agentId, source: `agent:${parent.agentId}`, priority: Priority.user, parent, signal: aborts.signal }, async () => {
            out.ran = true;
          })
          .catch((err: unknown) => void (out.error = err)),
      );
      return out;
    };
    // Pickle's turn calls subagent_dispatch twice in one response: walnut (busy) and cookie (free).
    const toWalnut = dispatch(p.admission()!, 'walnut');
    const toCookie = dispatch(p.admission()!, 'cookie');
    await flush();
    assert.equal(toCookie.ran, true);
    assert.equal(toWalnut.ran, false, 'pickle now waits for walnut');
    // Walnut's turn dispatches back to pickle: pickle waits for walnut, so this must be refused.
    const back = dispatch(w.admission()!, 'pickle');
    await flush();
    const error = back.error;
    aborts.abort(new Error('dispatch timeout'));
    await Promise.all(children);
    p.hold.resolve();
    w.hold.resolve();
    await Promise.all([p.done, w.done]);
    assert.ok(error instanceof DispatchDeadlockError, `walnut -> pickle was not refused (${String(error)})`);
  },
);

test('control: the deadlock check refuses the crossed dispatch when the parent dispatches only once', T, async () => {
  const controller = new AdmissionController({ maxTotal: 100, perSource: 0, queueLimit: 100 });
  for (const agent of ['pickle', 'walnut']) controller.setLimit(agent, 1);
  const p = root(controller, 'pickle', 'platform-cli:alice');
  const w = root(controller, 'walnut', 'platform-cli:bob');
  await flush();
  const aborts = new AbortController();
  const toWalnut = controller.run({ agentId: 'walnut', source: 'agent:pickle', priority: Priority.user, parent: p.admission()!, signal: aborts.signal }, async () => 'walnut did it');
  await flush();
  await assert.rejects(
    controller.run({ agentId: 'pickle', source: 'agent:walnut', priority: Priority.user, parent: w.admission()! }, async () => 'never'),
    (err: unknown) => err instanceof DispatchDeadlockError && /dispatch refused: pickle is busy .*deadlock/.test(err.message),
  );
  w.hold.resolve();
  await w.done;
  assert.equal(await toWalnut, 'walnut did it', 'once walnut is free the waiting dispatch runs');
  p.hold.resolve();
  await p.done;
  for (const agent of ['pickle', 'walnut']) {
    assert.deepEqual(controller.stats(agent), { limit: 1, running: 0, queued: 0, oldestWaitS: 0 });
    assert.equal(controller.available(agent), 1);
  }
});
