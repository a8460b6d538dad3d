/**
 * The admission policy (DESIGN.md section 4, issue 5) end to end: the real
 * runtime, worker, openai SDK and the fake LLM, which parks requests so a test
 * decides when each turn's model call returns. Covers queue_limit,
 * queue_timeout_s, max_total, per_source (dispatch children), reloads raising
 * and lowering limits with waiters present, priorities (cron vs a person) and
 * /status while busy.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { agentMd } from './helpers/workspace.js';
import { agentOf, lastUser, setupRuntime, type RuntimeHarness } from './helpers/harness.js';
import type { BrineRuntime } from '../src/runtime.js';
import { AdmissionController, type Admission, type AdmissionRequest } from '../src/concurrency/admission.js';
import { inboundMessage, type OutboundEvent } from '../src/events.js';

/** No test may hang: a broken admission path fails by timeout instead. */
const T = { timeout: 20_000 };

const WALNUT = { 'agents/walnut/AGENT.md': agentMd('name: Walnut\nmax_concurrency: 1', 'You are Walnut.') };

function setup(t: TestContext, files: Record<string, string> = {}, limiter?: AdmissionController): Promise<RuntimeHarness> {
  return setupRuntime(t, files, {
    handler: (req) => ({ content: `answer to ${req.lastUserMessage}` }),
    ...(limiter && { runtime: { limiter } }),
  });
}

/** Rejects if `promise` does not settle within `ms`. */
function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** One message sent on the bus, with promises for its first `queued` event and its final event. */
interface Sent {
  id: string;
  events: OutboundEvent[];
  queued: Promise<OutboundEvent>;
  final: Promise<OutboundEvent>;
}

function send(runtime: BrineRuntime, source: string, content: string, extra: { agentId?: string } = {}): Sent {
  const event = inboundMessage({ source, content, ...extra });
  const events: OutboundEvent[] = [];
  let onQueued!: (e: OutboundEvent) => void;
  let onFinal!: (e: OutboundEvent) => void;
  const queued = new Promise<OutboundEvent>((r) => (onQueued = r));
  const final = new Promise<OutboundEvent>((r) => (onFinal = r));
  const off = runtime.bus.on('outbound', (out) => {
    if (out.replyTo !== event.id) return;
    events.push(out);
    if (out.type === 'queued') onQueued(out);
    if (out.type === 'reply' || out.type === 'error') {
      off();
      onFinal(out);
    }
  });
  runtime.bus.publish('inbound', event);
  return { id: event.id, events, queued, final };
}

/** Creates the sources' sessions up front, so every turn reaches admission in publish order. */
async function sessions(runtime: BrineRuntime, agentId: string, ...sources: string[]): Promise<void> {
  for (const source of sources) assert.equal((await runtime.sessionFor(source, agentId)).agentId, agentId);
}

function assertPermitsBack(runtime: BrineRuntime, agentId: string, limit: number): void {
  assert.deepEqual(runtime.limiter.stats(agentId), { limit, running: 0, queued: 0, oldestWaitS: 0 }, `${agentId} stats`);
  assert.equal(runtime.limiter.available(agentId), limit, `${agentId} free permits`);
}

/** Lets pending microtasks and immediates run (no timers): the waiter is in its pool's queue afterwards. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

function types(sent: Sent): string[] {
  return sent.events.map((e) => e.type);
}

/**
 * The real admission policy, also reporting every wait (dispatches have no
 * queued event of their own), so a test can await "this run now waits".
 */
class ObservedAdmission extends AdmissionController {
  readonly waits: { agentId: string; source: string; position: number; waitingFor: string }[] = [];
  #listeners: (() => void)[] = [];

  constructor() {
    // The runtime applies the workspace's limits on open.
    super({ maxTotal: 1, perSource: 0, queueLimit: 1 });
  }

  override run<R>(request: AdmissionRequest, fn: (admission: Admission) => Promise<R>): Promise<R> {
    return super.run(
      {
        ...request,
        onQueued: (position, waitingFor) => {
          request.onQueued?.(position, waitingFor);
          this.waits.push({ agentId: request.agentId, source: request.source, position, waitingFor });
          for (const listener of this.#listeners.splice(0)) listener();
        },
      },
      fn,
    );
  }

  /** Resolves once a run for `source` has had to wait. */
  async waitFor(source: string): Promise<void> {
    while (!this.waits.some((w) => w.source === source)) await new Promise<void>((r) => this.#listeners.push(r));
  }
}

// ---------------------------------------------------------------------------
// Bounded queues
// ---------------------------------------------------------------------------

test('queue_limit: past it the sender gets a polite "busy" error at once, never queued, and the model never sees it', T, async (t) => {
  const { fake, runtime } = await setup(t, { 'config.user.yaml': 'concurrency:\n  queue_limit: 1\n' });
  await sessions(runtime, 'cookie', 'platform-cli:q1', 'platform-cli:q2', 'platform-cli:q3');
  const release = fake.gate();
  const q1 = send(runtime, 'platform-cli:q1', 'first');
  await fake.waitForPending(1, 5000, 'cookie');
  const q2 = send(runtime, 'platform-cli:q2', 'second');
  assert.equal((await q2.queued).position, 1);

  // Answered while cookie is still parked on q1: no waiting at all.
  const q3 = send(runtime, 'platform-cli:q3', 'one too many');
  const third = await within(2000, q3.final, 'the queue_full answer');
  assert.equal(fake.pending('cookie'), 1, 'q1 is still parked');
  assert.equal(third.type, 'error');
  assert.equal(third.code, 'queue_full');
  assert.match(third.content, /busy/i);
  assert.match(third.content, /try again/i);
  assert.deepEqual(types(q3), ['error'], 'no queued or started event for a refused message');
  assert.deepEqual([runtime.limiter.stats('cookie').running, runtime.limiter.stats('cookie').queued], [1, 1]);

  release();
  assert.equal((await q1.final).content, 'answer to first');
  assert.equal((await q2.final).content, 'answer to second');
  await fake.settle();
  assert.deepEqual(fake.requestsFor('cookie').map((r) => lastUser(r)), ['first', 'second'], 'the refused message never reached the model');
  assertPermitsBack(runtime, 'cookie', 1);
});

test('queue_timeout_s: a turn that waited too long gets an error notice (not silence), the model never sees it, nothing leaks', T, async (t) => {
  const { fake, runtime } = await setup(t, { 'config.user.yaml': 'concurrency:\n  queue_timeout_s: 0.3\n' });
  await sessions(runtime, 'cookie', 'platform-cli:a', 'platform-cli:b', 'platform-cli:c');
  fake.gate();
  const a = send(runtime, 'platform-cli:a', 'from a');
  await fake.waitForPending(1, 5000, 'cookie');

  const sentAt = Date.now();
  const b = send(runtime, 'platform-cli:b', 'from b');
  assert.equal((await b.queued).position, 1);
  const timedOut = await within(2000, b.final, 'the queue timeout notice');
  const waited = Date.now() - sentAt;
  assert.ok(waited >= 250, `the notice came after ${waited} ms, before queue_timeout_s`);
  assert.equal(timedOut.type, 'error');
  assert.equal(timedOut.code, 'queue_timeout');
  assert.match(timedOut.content, /cookie stayed busy/);
  assert.match(timedOut.content, /send it again/);
  assert.deepEqual(types(b), ['queued', 'error'], 'b never started');
  assert.equal(fake.pending('cookie'), 1, 'a is still parked');
  assert.equal(runtime.limiter.stats('cookie').queued, 0, 'b left the queue');

  assert.ok(fake.releaseNext('cookie'));
  assert.equal((await a.final).content, 'answer to from a');
  // The permit b gave up is not lost: the next message runs.
  fake.holdRequests = false;
  const c = send(runtime, 'platform-cli:c', 'from c');
  assert.equal((await within(2000, c.final, 'the next turn')).content, 'answer to from c');
  await fake.settle();
  assert.deepEqual(fake.requestsFor('cookie').map((r) => lastUser(r)), ['from a', 'from c'], 'the timed-out message never reached the model');
  assertPermitsBack(runtime, 'cookie', 1);
});

// ---------------------------------------------------------------------------
// max_total and per_source
// ---------------------------------------------------------------------------

test('max_total 2: three agents from three sources, the third waits (queued, position 1) until a slot frees', T, async (t) => {
  const { fake, runtime } = await setup(t, { ...WALNUT, 'config.user.yaml': 'concurrency:\n  max_total: 2\n' });
  await sessions(runtime, 'pickle', 'platform-cli:p');
  await sessions(runtime, 'cookie', 'platform-cli:c');
  await sessions(runtime, 'walnut', 'platform-cli:w');
  fake.gate();
  const p = send(runtime, 'platform-cli:p', 'to pickle');
  const c = send(runtime, 'platform-cli:c', 'to cookie');
  await fake.waitForPending(2);
  const w = send(runtime, 'platform-cli:w', 'to walnut');
  const queued = await w.queued;
  assert.equal(queued.position, 1);
  assert.equal(queued.content, 'queued (position 1)');
  await fake.settle();
  assert.equal(fake.totalRequests('walnut'), 0, 'walnut is free but the process is at max_total');
  assert.deepEqual(runtime.limiter.totalStats(), { ...runtime.limiter.totalStats(), limit: 2, running: 2, queued: 1 });

  assert.ok(fake.releaseNext('cookie'));
  assert.equal((await c.final).content, 'answer to to cookie');
  await fake.waitForPending(1, 5000, 'walnut');
  await fake.settle();
  assert.equal(fake.pending(), 2, 'still two at once: pickle and walnut');
  fake.holdRequests = false;
  fake.releaseAll();
  assert.equal((await p.final).content, 'answer to to pickle');
  assert.equal((await w.final).content, 'answer to to walnut');
  assert.deepEqual(types(w), ['queued', 'started', 'reply']);
  assert.equal(fake.maxInFlight(), 2);
  assert.deepEqual(runtime.limiter.totalStats(), { limit: 2, running: 0, queued: 0, oldestWaitS: 0 });
});

test('per_source 1: two dispatches from pickle (source agent:pickle) run one at a time, though cookie and walnut are both free', T, async (t) => {
  const limiter = new ObservedAdmission();
  const { fake, runtime } = await setup(t, { ...WALNUT, 'config.user.yaml': 'concurrency:\n  per_source: 1\n' }, limiter);
  fake.setHandler((req) => {
    const me = agentOf(req);
    if (me !== 'pickle') return { content: `${me} did ${req.lastUserMessage}` };
    if (req.toolResults.length === 0) {
      const target = req.lastUserMessage.includes('cookie') ? 'cookie' : 'walnut';
      return { toolCalls: [{ name: 'subagent_dispatch', arguments: { agent_id: target, task: `job for ${target}` } }] };
    }
    return { content: `pickle relays: ${req.toolResults[0]!.content}` };
  });
  await sessions(runtime, 'pickle', 'platform-cli:u1', 'platform-cli:u2');
  fake.gate();
  const u1 = send(runtime, 'platform-cli:u1', 'ask cookie');
  await fake.waitForPending(1, 5000, 'pickle');
  assert.ok(fake.releaseNext('pickle'));
  await fake.waitForPending(1, 5000, 'cookie');

  const u2 = send(runtime, 'platform-cli:u2', 'ask walnut');
  await fake.waitForPending(1, 5000, 'pickle');
  assert.ok(fake.releaseNext('pickle'));
  await within(5000, limiter.waitFor('agent:pickle'), 'the second dispatch waiting');
  assert.deepEqual(limiter.waits.filter((w) => w.source === 'agent:pickle'), [{ agentId: 'walnut', source: 'agent:pickle', position: 1, waitingFor: 'source' }]);
  await fake.settle();
  assert.equal(fake.totalRequests('walnut'), 0, 'walnut is free, but source agent:pickle is at per_source 1');
  assert.deepEqual(runtime.limiter.sourceStats()['agent:pickle'], { ...runtime.limiter.sourceStats()['agent:pickle']!, limit: 1, running: 1, queued: 1 });

  assert.ok(fake.releaseNext('cookie'));
  await fake.waitForPending(1, 5000, 'walnut');
  assert.equal(fake.inFlight('cookie'), 0, 'cookie child finished before the walnut child started');
  fake.holdRequests = false;
  fake.releaseAll();
  assert.equal((await u1.final).content, 'pickle relays: cookie did job for cookie');
  assert.equal((await u2.final).content, 'pickle relays: walnut did job for walnut');
  assert.deepEqual(runtime.limiter.sourceStats(), {}, 'idle sources are dropped');
  for (const [agent, limit] of [['pickle', 3], ['cookie', 1], ['walnut', 1]] as const) assertPermitsBack(runtime, agent, limit);
});

// ---------------------------------------------------------------------------
// Reload with waiters present
// ---------------------------------------------------------------------------

test('reload raising max_total 1 -> 2 lets a waiter in at once', T, async (t) => {
  const { dir, fake, runtime } = await setup(t, { 'config.user.yaml': 'concurrency:\n  max_total: 1\n' });
  await sessions(runtime, 'pickle', 'platform-cli:r1', 'platform-cli:r2', 'platform-cli:r3');
  const release = fake.gate();
  const r1 = send(runtime, 'platform-cli:r1', 'one');
  await fake.waitForPending(1, 5000, 'pickle');
  const r2 = send(runtime, 'platform-cli:r2', 'two');
  assert.equal((await r2.queued).position, 1);
  await flush();
  const r3 = send(runtime, 'platform-cli:r3', 'three');
  assert.equal((await r3.queued).position, 2);
  await fake.settle();
  assert.equal(fake.totalRequests('pickle'), 1, 'pickle has limit 3, but max_total 1 binds');

  await writeFile(join(dir, 'config.user.yaml'), 'concurrency:\n  max_total: 2\n');
  assert.deepEqual(await runtime.reload(), []);
  await fake.waitForPending(2, 5000, 'pickle');
  await fake.settle();
  assert.equal(fake.pending('pickle'), 2, 'exactly one waiter let in, nothing finished');
  assert.equal(lastUser(fake.requests[1]), 'two', 'the first waiter');
  assert.deepEqual(runtime.limiter.totalStats(), { ...runtime.limiter.totalStats(), limit: 2, running: 2, queued: 1 });

  release();
  for (const [s, text] of [[r1, 'one'], [r2, 'two'], [r3, 'three']] as const) assert.equal((await s.final).content, `answer to ${text}`);
  assert.equal(fake.maxInFlight('pickle'), 2);
  assert.deepEqual(runtime.limiter.totalStats(), { limit: 2, running: 0, queued: 0, oldestWaitS: 0 });
});

test('reload lowering pickle max_concurrency 3 -> 1 while 3 run: they finish, nobody is admitted until running < 1, then one at a time', T, async (t) => {
  const { dir, fake, runtime } = await setup(t);
  const sources = [1, 2, 3, 4, 5].map((i) => `platform-cli:l${i}`);
  await sessions(runtime, 'pickle', ...sources);
  fake.gate();
  const turns = sources.slice(0, 3).map((s, i) => send(runtime, s, `run ${i + 1}`));
  await fake.waitForPending(3, 5000, 'pickle');
  const waiting: Sent[] = [];
  for (const [i, source] of sources.slice(3).entries()) {
    waiting.push(send(runtime, source, `wait ${i + 1}`));
    assert.equal((await waiting[i]!.queued).position, i + 1);
  }

  const path = join(dir, 'agents', 'pickle', 'AGENT.md');
  const original = await readFile(path, 'utf8');
  assert.match(original, /^max_concurrency: 3$/m);
  await writeFile(path, original.replace(/^max_concurrency: 3$/m, 'max_concurrency: 1'));
  assert.deepEqual(await runtime.reload(), []);
  assert.equal(runtime.snapshot().agents.get('pickle')?.name, 'Pickle');
  assert.deepEqual([runtime.limiter.stats('pickle').limit, runtime.limiter.stats('pickle').running, runtime.limiter.stats('pickle').queued], [1, 3, 2]);

  // The three running turns finish (in the order their requests were parked);
  // after each, nobody new is admitted while running >= 1.
  for (let i = 0; i < 3; i++) {
    const text = lastUser(fake.requestsFor('pickle')[i]);
    const turn = turns.find((_, k) => text === `run ${k + 1}`);
    assert.ok(turn, text);
    assert.ok(fake.releaseNext('pickle'));
    assert.equal((await within(5000, turn.final, text)).content, `answer to ${text}`);
    if (i < 2) {
      await fake.settle();
      assert.equal(fake.totalRequests('pickle'), 3, `after ${i + 1} finished, ${2 - i} still run: no admission`);
      assert.equal(runtime.limiter.stats('pickle').queued, 2);
    }
  }
  // Then one at a time, first come first served.
  for (let i = 0; i < 2; i++) {
    await fake.waitForRequests(4 + i, 5000, 'pickle');
    await fake.settle();
    assert.equal(fake.pending('pickle'), 1, 'one at a time under the new limit');
    assert.equal(lastUser(fake.requestsFor('pickle')[3 + i]), `wait ${i + 1}`);
    assert.ok(fake.releaseNext('pickle'));
    assert.equal((await within(5000, waiting[i]!.final, `wait ${i + 1}`)).content, `answer to wait ${i + 1}`);
  }
  assertPermitsBack(runtime, 'pickle', 1);
});

// ---------------------------------------------------------------------------
// Priority
// ---------------------------------------------------------------------------

test('a cron job waiting for cookie is admitted after a later direct user message waiting for cookie', T, async (t) => {
  const { fake, runtime } = await setup(t);
  await sessions(runtime, 'cookie', 'platform-cli:a', 'cron:x', 'platform-cli:u');
  fake.gate();
  const order: string[] = [];
  const a = send(runtime, 'platform-cli:a', 'busy work');
  await fake.waitForPending(1, 5000, 'cookie');
  const cron = send(runtime, 'cron:x', 'nightly job');
  assert.equal((await cron.queued).position, 1);
  const user = send(runtime, 'platform-cli:u', 'a person asks');
  assert.equal((await user.queued).position, 1, 'the person goes ahead of the cron job');
  for (const [name, s] of [['a', a], ['cron', cron], ['user', user]] as const) void s.final.then(() => order.push(name));
  assert.equal(runtime.limiter.stats('cookie').queued, 2);

  assert.ok(fake.releaseNext('cookie'));
  await fake.waitForRequests(2, 5000, 'cookie');
  assert.equal(lastUser(fake.requestsFor('cookie')[1]), 'a person asks');
  assert.ok(fake.releaseNext('cookie'));
  await fake.waitForRequests(3, 5000, 'cookie');
  assert.equal(lastUser(fake.requestsFor('cookie')[2]), 'nightly job');
  assert.ok(fake.releaseNext('cookie'));
  assert.equal((await cron.final).content, 'answer to nightly job');
  assert.deepEqual(order, ['a', 'user', 'cron']);
  assert.equal(fake.maxInFlight('cookie'), 1);
  assertPermitsBack(runtime, 'cookie', 1);
});

// ---------------------------------------------------------------------------
// /status while busy
// ---------------------------------------------------------------------------

test('/status answers at once while the agent is busy, with the total line and, under per_source, the busy source', T, async (t) => {
  const { fake, runtime } = await setup(t, { 'config.user.yaml': 'concurrency:\n  per_source: 1\n  max_total: 5\n' });
  await sessions(runtime, 'cookie', 'platform-cli:busy', 'platform-cli:waiter');
  const release = fake.gate();
  const busy = send(runtime, 'platform-cli:busy', 'long job');
  await fake.waitForPending(1, 5000, 'cookie');
  const waiter = send(runtime, 'platform-cli:waiter', 'me too');
  await waiter.queued;
  await flush();

  // From the busy source itself: a slash command does not wait for its turn.
  const status = await within(2000, send(runtime, 'platform-cli:busy', '/status').final, '/status');
  assert.equal(status.type, 'reply');
  assert.equal(status.command, true);
  const text = status.content;
  assert.match(text, /^Agents:$/m);
  assert.match(text, /^ {2}cookie +limit 1 {2}running 1 {2}queued 1 {2}oldest wait \d+\.\d s$/m);
  assert.match(text, /^ {2}pickle +limit 3 {2}running 0 {2}queued 0$/m);
  assert.match(text, /^Sources \(concurrency\.per_source\):$/m);
  assert.match(text, /^ {2}platform-cli:busy +limit 1 {2}running 1 {2}queued 0$/m);
  assert.match(text, /^Total \(concurrency\.max_total\):$/m);
  // A waiting turn counts as queued for every limit it still needs (its source, cookie, the process).
  assert.match(text, /^ {2}platform-cli:waiter +limit 1 {2}running 0 {2}queued 1 {2}oldest wait \d+\.\d s$/m);
  assert.match(text, /^ {2}all +limit 5 {2}running 1 {2}queued 1 {2}oldest wait \d+\.\d s$/m);
  assert.equal(fake.totalRequests(), 1, '/status never reached the model');

  release();
  await busy.final;
  await waiter.final;
  const after = await within(2000, send(runtime, 'platform-cli:busy', '/status').final, '/status when idle');
  assert.doesNotMatch(after.content, /Sources/, 'no source runs or waits any more');
  assert.match(after.content, /^ {2}all +limit 5 {2}running 0 {2}queued 0$/m);
});

// ---------------------------------------------------------------------------
// Queue positions (the number the sender sees)
// ---------------------------------------------------------------------------

test(
  'per_source 1: three messages for a busy agent arriving together are told positions 1, 2, 3',
  T,
  async () => {
    const controller = new AdmissionController({ maxTotal: 100, perSource: 1, queueLimit: 100 });
    controller.setLimit('cookie', 1);
    let release!: () => void;
    const holder = controller.run({ agentId: 'cookie', source: 'platform-cli:s0', priority: 10 }, () => new Promise<void>((r) => (release = r)));
    await flush();
    const positions: number[] = [];
    const waiters = ['platform-cli:s1', 'platform-cli:s2', 'platform-cli:s3'].map((source) =>
      controller.run({ agentId: 'cookie', source, priority: 10, onQueued: (p) => void positions.push(p) }, async () => undefined),
    );
    await flush();
    release();
    await Promise.all([holder, ...waiters]);
    assert.deepEqual(positions, [1, 2, 3]);
  },
);
