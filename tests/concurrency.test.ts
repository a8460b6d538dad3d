// Concurrency (DESIGN.md section 4), end to end through the bus, the worker,
// the real openai SDK and the fake LLM, which parks requests (holdRequests /
// gate) and counts them in flight per agent (classified from the system
// prompt). Plus unit tests of SemaphoreAgentLimiter and of the EventBus.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { messageText } from './fakes/fake-llm.js';
import { agentMd, ask } from './helpers/workspace.js';
import { lastUser, setupRuntime, type RuntimeHarness } from './helpers/harness.js';
import type { BrineRuntime } from '../src/runtime.js';
import { AdmissionController } from '../src/concurrency/admission.js';
import { EventBus } from '../src/bus.js';
import { inboundMessage, type InboundMessage, type OutboundEvent } from '../src/events.js';

/** No test may hang: a broken admission path fails by timeout instead. */
const T = { timeout: 20_000 };

/** Fresh workspace + fake (answering `answer to <message>`) + runtime; everything is closed after the test. */
function setup(t: TestContext, files: Record<string, string> = {}): Promise<RuntimeHarness> {
  return setupRuntime(t, files, { handler: (req) => ({ content: `answer to ${req.lastUserMessage}` }) });
}

/** Creates the sources' sessions up front (so every turn reaches the limiter in publish order). */
async function sessions(runtime: BrineRuntime, agentId: string, ...sources: string[]): Promise<void> {
  for (const source of sources) assert.equal((await runtime.sessionFor(source, agentId)).agentId, agentId);
}

/** ask(), recording the order in which the final events arrive. */
function track(runtime: BrineRuntime, order: string[], source: string, content: string) {
  return ask(runtime, source, content).then((r) => {
    order.push(content);
    return r;
  });
}

function queuedPositions(events: OutboundEvent[]): (number | undefined)[] {
  return events.filter((e) => e.type === 'queued').map((e) => e.position);
}

function assertPermitsBack(runtime: BrineRuntime, agentId: string, limit: number): void {
  const stats = runtime.limiter.stats(agentId);
  assert.equal(stats.running, 0, `${agentId} running`);
  assert.equal(stats.queued, 0, `${agentId} queued`);
  assert.equal(stats.limit, limit);
  assert.equal(runtime.limiter.available(agentId), limit, `${agentId} free permits`);
}

// ---------------------------------------------------------------------------
// Through the runtime
// ---------------------------------------------------------------------------

test('cookie (limit 1): two sources at once, one LLM request at a time, the second is queued, FIFO', T, async (t) => {
  const { fake, runtime } = await setup(t);
  await sessions(runtime, 'cookie', 'platform-cli:a', 'platform-cli:b');
  const seen: OutboundEvent[] = [];
  runtime.bus.on('outbound', (e) => void seen.push(e));
  fake.gate();
  const order: string[] = [];
  const a = track(runtime, order, 'platform-cli:a', 'from a');
  const b = track(runtime, order, 'platform-cli:b', 'from b');

  await fake.waitForPending(1, 5000, 'cookie');
  await fake.settle();
  assert.equal(fake.pending('cookie'), 1, 'only one cookie request may be in flight');
  assert.equal(fake.totalRequests('cookie'), 1);
  assert.equal(lastUser(fake.requests[0]), 'from a', 'the first to arrive goes first');
  const busy = runtime.limiter.stats('cookie');
  assert.deepEqual([busy.limit, busy.running, busy.queued], [1, 1, 1]);
  assert.deepEqual(
    seen.filter((e) => e.type === 'queued').map((e) => [e.source, e.position]),
    [['platform-cli:b', 1]],
    'while a is parked, b has been told it is queued at position 1',
  );

  assert.ok(fake.releaseNext('cookie'));
  const ra = await a;
  assert.equal(ra.final.type, 'reply');
  assert.equal(ra.final.content, 'answer to from a');
  assert.deepEqual(queuedPositions(ra.events), [], 'a never waited');

  await fake.waitForPending(1, 5000, 'cookie');
  assert.equal(lastUser(fake.requests[1]), 'from b');
  assert.ok(fake.releaseNext('cookie'));
  const rb = await b;
  assert.equal(rb.final.type, 'reply');
  assert.equal(rb.final.content, 'answer to from b');
  assert.deepEqual(queuedPositions(rb.events), [1], 'b was told it is queued at position 1');
  const types = rb.events.map((e) => e.type);
  assert.ok(types.indexOf('queued') < types.indexOf('started'), `queued before started: ${types.join(', ')}`);

  assert.deepEqual(order, ['from a', 'from b']);
  assert.equal(fake.maxInFlight('cookie'), 1);
  assertPermitsBack(runtime, 'cookie', 1);
});

test('pickle (limit 3): three sources are in flight together, a fourth is queued', T, async (t) => {
  const { fake, runtime } = await setup(t);
  const sources = ['platform-cli:p1', 'platform-cli:p2', 'platform-cli:p3', 'platform-cli:p4'];
  await sessions(runtime, 'pickle', ...sources);
  const seen: OutboundEvent[] = [];
  runtime.bus.on('outbound', (e) => void seen.push(e));
  const release = fake.gate();
  const turns = sources.map((source) => ask(runtime, source, `hi from ${source}`));

  await fake.waitForPending(3, 5000, 'pickle');
  await fake.settle();
  assert.equal(fake.pending('pickle'), 3, 'exactly three parked at once');
  assert.equal(fake.maxInFlight('pickle'), 3);
  assert.equal(runtime.limiter.stats('pickle').running, 3);
  assert.equal(runtime.limiter.stats('pickle').queued, 1);
  assert.deepEqual(
    seen.filter((e) => e.type === 'queued').map((e) => [e.source, e.position]),
    [['platform-cli:p4', 1]],
  );

  release();
  const results = await Promise.all(turns);
  results.forEach((r, i) => assert.equal(r.final.content, `answer to hi from ${sources[i]}`));
  assert.deepEqual(results.map((r) => queuedPositions(r.events)), [[], [], [], [1]]);
  assert.equal(fake.maxInFlight('pickle'), 3, 'never more than three');
  assert.equal(fake.totalRequests('pickle'), 4);
  assertPermitsBack(runtime, 'pickle', 3);
});

test('a busy agent does not block other agents', T, async (t) => {
  const { fake, runtime } = await setup(t);
  await sessions(runtime, 'cookie', 'platform-cli:c1', 'platform-cli:c2');
  await sessions(runtime, 'pickle', 'platform-cli:p');
  const release = fake.gate();
  const c1 = ask(runtime, 'platform-cli:c1', 'cookie one');
  const c2 = ask(runtime, 'platform-cli:c2', 'cookie two');
  await fake.waitForPending(1, 5000, 'cookie');
  assert.equal(runtime.limiter.stats('cookie').queued, 1, 'cookie is full and has a waiter');

  const p = ask(runtime, 'platform-cli:p', 'pickle question');
  await fake.waitForPending(1, 5000, 'pickle');
  assert.ok(fake.releaseNext('pickle'));
  const rp = await p;
  assert.equal(rp.final.type, 'reply');
  assert.equal(rp.final.content, 'answer to pickle question');
  assert.deepEqual(queuedPositions(rp.events), []);
  assert.equal(fake.pending('cookie'), 1, 'cookie is still parked while pickle answered');
  assert.equal(runtime.limiter.stats('cookie').queued, 1);

  release();
  assert.equal((await c1).final.type, 'reply');
  assert.equal((await c2).final.type, 'reply');
  assert.equal(fake.maxInFlight('cookie'), 1);
});

test('one turn at a time per source, answered in arrival order, even under a limit of 3', T, async (t) => {
  const { fake, runtime } = await setup(t);
  const S = 'platform-discord:U1:C1';
  await sessions(runtime, 'pickle', S);
  fake.gate();
  const order: string[] = [];
  const first = track(runtime, order, S, 'first');
  const second = track(runtime, order, S, 'second');

  await fake.waitForPending(1, 5000, 'pickle');
  await fake.settle();
  assert.equal(fake.pending('pickle'), 1, 'the second message of the same source must wait for the first turn');
  assert.equal(lastUser(fake.requests[0]), 'first');
  assert.ok(fake.releaseNext('pickle'));
  assert.equal((await first).final.content, 'answer to first');

  await fake.waitForPending(1, 5000, 'pickle');
  const req = fake.requests[1]!;
  assert.equal(lastUser(req), 'second');
  assert.match(JSON.stringify(req.body.messages), /answer to first/, 'the second turn sees the first one in its history');
  assert.ok(fake.releaseNext('pickle'));
  assert.equal((await second).final.content, 'answer to second');

  assert.deepEqual(order, ['first', 'second']);
  assert.equal(fake.maxInFlight('pickle'), 1);
});

test('permits come back after a failing tool, malformed tool JSON, a failed LLM call and a success', T, async (t) => {
  const { fake, runtime } = await setup(t, { 'config.user.yaml': 'llm:\n  max_retries: 0\n' });
  const S = 'platform-cli:permits';
  await sessions(runtime, 'cookie', S);
  assertPermitsBack(runtime, 'cookie', 1);

  // 1. A tool that throws (a path outside the workspace).
  fake.enqueue({ toolCalls: [{ name: 'read', arguments: { path: '/etc/passwd' } }] }, { content: 'could not read it' });
  let r = await ask(runtime, S, 'read /etc/passwd');
  assert.equal(r.final.type, 'reply');
  assert.equal(r.final.content, 'could not read it');
  let toolMsg = fake.requests[1]!.body.messages.at(-1)!;
  assert.equal(toolMsg.role, 'tool');
  assert.match(messageText(toolMsg.content), /^error: /);
  assert.doesNotMatch(messageText(toolMsg.content), /root:/);
  assertPermitsBack(runtime, 'cookie', 1);

  // 2. Malformed JSON arguments.
  fake.enqueue({ toolCalls: [{ name: 'read', arguments: '{"path": ' }] }, { content: 'fixed myself' });
  r = await ask(runtime, S, 'read something');
  assert.equal(r.final.content, 'fixed myself');
  toolMsg = fake.requests[3]!.body.messages.at(-1)!;
  assert.match(messageText(toolMsg.content), /not valid JSON/);
  assertPermitsBack(runtime, 'cookie', 1);

  // 3. The LLM call fails (500, no retries).
  fake.enqueue({ error: { status: 500, message: 'upstream exploded' } });
  r = await ask(runtime, S, 'this will fail');
  assert.equal(r.final.type, 'error');
  assert.match(r.final.content, /500/);
  assert.equal(fake.totalRequests(), 5, 'max_retries 0: exactly one attempt');
  assertPermitsBack(runtime, 'cookie', 1);

  // 4. A plain success.
  r = await ask(runtime, S, 'all good?');
  assert.equal(r.final.type, 'reply');
  assert.equal(r.final.content, 'answer to all good?');
  assertPermitsBack(runtime, 'cookie', 1);

  // 5. A failure while another source waits: the waiter still gets the permit.
  await sessions(runtime, 'cookie', 'platform-cli:other');
  fake.gate();
  const failing = ask(runtime, S, 'fails while other waits');
  const waiting = ask(runtime, 'platform-cli:other', 'waits');
  await fake.waitForPending(1, 5000, 'cookie');
  assert.equal(runtime.limiter.stats('cookie').queued, 1);
  fake.enqueue({ error: { status: 500, message: 'boom again' } });
  assert.ok(fake.releaseNext('cookie'));
  assert.equal((await failing).final.type, 'error');
  await fake.waitForPending(1, 5000, 'cookie');
  assert.ok(fake.releaseNext('cookie'));
  assert.equal((await waiting).final.type, 'reply');
  assertPermitsBack(runtime, 'cookie', 1);
});

test('reload raising max_concurrency admits a queued turn at once', T, async (t) => {
  const { fake, runtime, dir } = await setup(t);
  const sources = ['platform-cli:r1', 'platform-cli:r2', 'platform-cli:r3'];
  await sessions(runtime, 'cookie', ...sources);
  const release = fake.gate();
  const turns = sources.map((s) => ask(runtime, s, `from ${s}`));
  await fake.waitForPending(1, 5000, 'cookie');
  await fake.settle();
  assert.equal(fake.pending('cookie'), 1);
  assert.deepEqual(
    [runtime.limiter.stats('cookie').running, runtime.limiter.stats('cookie').queued],
    [1, 2],
  );

  await writeFile(join(dir, 'agents', 'cookie', 'AGENT.md'), agentMd('name: Cookie\nmax_concurrency: 2', 'You keep memories.'));
  assert.deepEqual(await runtime.reload(), []);
  await fake.waitForPending(2, 5000, 'cookie');
  await fake.settle();
  assert.equal(fake.pending('cookie'), 2, 'two parked at once, not three');
  const stats = runtime.limiter.stats('cookie');
  assert.deepEqual([stats.limit, stats.running, stats.queued], [2, 2, 1]);

  release();
  const results = await Promise.all(turns);
  for (const r of results) assert.equal(r.final.type, 'reply');
  assert.equal(fake.maxInFlight('cookie'), 2);
  assertPermitsBack(runtime, 'cookie', 2);
});

test(
  'concurrency.queue_limit: past it the sender gets a "busy" answer at once instead of waiting',
  T,
  async (t) => {
    const { fake, runtime } = await setup(t, { 'config.user.yaml': 'concurrency:\n  queue_limit: 1\n' });
    const sources = ['platform-cli:q1', 'platform-cli:q2', 'platform-cli:q3'];
    await sessions(runtime, 'cookie', ...sources);
    const release = fake.gate();
    const [q1, q2] = sources.slice(0, 2).map((s) => ask(runtime, s, `from ${s}`));
    await fake.waitForPending(1, 5000, 'cookie');
    let third: OutboundEvent | undefined;
    const q3 = ask(runtime, sources[2]!, 'one too many').then((r) => (third = r.final));
    await fake.settle();
    try {
      assert.ok(third, 'the third turn (queue full) must be answered without waiting');
      assert.match(third.content, /busy/i);
      assert.equal(fake.totalRequests('cookie'), 1);
    } finally {
      release();
      await Promise.all([q1, q2, q3]);
    }
  },
);

// ---------------------------------------------------------------------------
// The admission policy's per-agent limit, no LLM
// ---------------------------------------------------------------------------

/** An AdmissionController with only per-agent limits in play, driven like a plain per-agent limiter. */
class SemaphoreAgentLimiter {
  readonly #admission: AdmissionController;
  #next = 0;
  constructor(limits: [string, number][], now?: () => number) {
    this.#admission = new AdmissionController({ maxTotal: 1_000, perSource: 0, queueLimit: 1_000 }, now);
    for (const [agentId, limit] of limits) this.#admission.setLimit(agentId, limit);
  }
  run<T>(agentId: string, fn: () => Promise<T>, onQueued?: (position: number) => void): Promise<T> {
    return this.#admission.run({ agentId, source: `test:${this.#next++}`, priority: 0, ...(onQueued && { onQueued }) }, fn);
  }
  setLimit(agentId: string, limit: number): void {
    this.#admission.setLimit(agentId, limit);
  }
  stats(agentId: string) {
    return this.#admission.stats(agentId);
  }
  available(agentId: string): number {
    return this.#admission.available(agentId);
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Lets every pending microtask and immediate run (all in-process; no timers involved). */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
}

test('limiter: limit 1 admits five waiters first come, first served', T, async () => {
  const limiter = new SemaphoreAgentLimiter([['a', 1]]);
  const started: number[] = [];
  const gates = Array.from({ length: 6 }, () => deferred());
  const positions: number[] = [];
  let running = 0;
  let maxRunning = 0;
  const runs = gates.map((g, i) =>
    limiter.run(
      'a',
      async () => {
        started.push(i);
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        await g.promise;
        running -= 1;
        return i;
      },
      (position) => positions.push(position),
    ),
  );
  await flush();
  assert.deepEqual(started, [0]);
  assert.deepEqual(positions, [1, 2, 3, 4, 5]);
  assert.equal(limiter.stats('a').queued, 5);
  // Each finish admits exactly the next waiter in arrival order.
  for (let i = 0; i < 6; i++) {
    gates[i]!.resolve();
    await flush();
    assert.deepEqual(started, [0, 1, 2, 3, 4, 5].slice(0, Math.min(i + 2, 6)));
  }
  assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3, 4, 5]);
  assert.equal(maxRunning, 1);
  assert.deepEqual(limiter.stats('a'), { limit: 1, running: 0, queued: 0, oldestWaitS: 0 });
  assert.equal(limiter.available('a'), 1);
});

test('limiter: lowering the limit from 3 to 1 while 3 run admits nobody until running drops below 1', T, async () => {
  const limiter = new SemaphoreAgentLimiter([['a', 3]]);
  let running = 0;
  let maxAfterLower = 0;
  let lowered = false;
  const started: string[] = [];
  const make = (name: string) => {
    const g = deferred();
    const p = limiter.run('a', async () => {
      started.push(name);
      running += 1;
      if (lowered) maxAfterLower = Math.max(maxAfterLower, running);
      await g.promise;
      running -= 1;
    });
    return { g, p };
  };
  const r1 = make('r1');
  const r2 = make('r2');
  const r3 = make('r3');
  await flush();
  assert.deepEqual(started, ['r1', 'r2', 'r3']);
  const w1 = make('w1');
  const w2 = make('w2');
  await flush();
  assert.equal(limiter.stats('a').queued, 2);

  limiter.setLimit('a', 1);
  lowered = true;
  assert.equal(limiter.stats('a').limit, 1);
  r1.g.resolve();
  await flush();
  assert.deepEqual(started, ['r1', 'r2', 'r3'], 'running 2 > limit 1: nobody admitted');
  r2.g.resolve();
  await flush();
  assert.deepEqual(started, ['r1', 'r2', 'r3'], 'running 1 = limit 1: nobody admitted');
  assert.equal(limiter.stats('a').running, 1);
  r3.g.resolve();
  await flush();
  assert.deepEqual(started, ['r1', 'r2', 'r3', 'w1']);
  w1.g.resolve();
  await flush();
  assert.deepEqual(started, ['r1', 'r2', 'r3', 'w1', 'w2']);
  w2.g.resolve();
  await Promise.all([r1.p, r2.p, r3.p, w1.p, w2.p]);
  assert.equal(maxAfterLower, 1, 'no new admission pushed running over the new limit');
  assert.deepEqual(limiter.stats('a'), { limit: 1, running: 0, queued: 0, oldestWaitS: 0 });
  assert.equal(limiter.available('a'), 1);
});

test('limiter: a throwing run gives its permit back; invalid limits are refused', T, async () => {
  const limiter = new SemaphoreAgentLimiter([['a', 1]]);
  await assert.rejects(limiter.run('a', async () => Promise.reject(new Error('nope'))), /nope/);
  assert.deepEqual(limiter.stats('a'), { limit: 1, running: 0, queued: 0, oldestWaitS: 0 });
  assert.equal(limiter.available('a'), 1);
  assert.equal(await limiter.run('a', async () => 'next'), 'next');
  for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => limiter.setLimit('a', bad), RangeError);
  assert.equal(limiter.stats('a').limit, 1);
  await assert.rejects(limiter.run('unknown', async () => 1), /no concurrency limit set for agent "unknown"/);
});

test('limiter: stats().oldestWaitS grows with an injected clock', T, async () => {
  let now = 1_000_000;
  const limiter = new SemaphoreAgentLimiter([['a', 1]], () => now);
  const holder = deferred();
  const running = limiter.run('a', () => holder.promise);
  assert.equal(limiter.stats('a').oldestWaitS, 0, 'nobody waits yet');
  const w1 = limiter.run('a', async () => undefined);
  assert.equal(limiter.stats('a').oldestWaitS, 0);
  now += 2_500;
  assert.equal(limiter.stats('a').oldestWaitS, 2.5);
  const w2 = limiter.run('a', async () => undefined);
  now += 1_000;
  const stats = limiter.stats('a');
  assert.equal(stats.queued, 2);
  assert.equal(stats.oldestWaitS, 3.5, 'the oldest waiter counts, not the newest');
  holder.resolve();
  await Promise.all([running, w1, w2]);
  assert.deepEqual(limiter.stats('a'), { limit: 1, running: 0, queued: 0, oldestWaitS: 0 });
});

// ---------------------------------------------------------------------------
// EventBus
// ---------------------------------------------------------------------------

test('bus: a throwing or rejecting subscriber does not stop the others, and is logged', T, async () => {
  const logged: string[] = [];
  const logger = pino({ level: 'error' }, new Writable({ write(chunk: Buffer, _enc, cb) { logged.push(chunk.toString()); cb(); } }));
  const bus = new EventBus(logger);
  const got: string[] = [];
  bus.on('inbound', () => {
    throw new Error('sync boom');
  });
  bus.on('inbound', (e) => void got.push(`second:${e.content}`));
  bus.on('inbound', async () => {
    throw new Error('async boom');
  });
  bus.on('inbound', (e) => void got.push(`fourth:${e.content}`));
  const event: InboundMessage = inboundMessage({ source: 'platform-cli:x', content: 'hello' });
  assert.doesNotThrow(() => bus.publish('inbound', event));
  assert.deepEqual(got, ['second:hello', 'fourth:hello']);
  await flush();
  const errors = logged.filter((l) => l.includes('bus handler failed'));
  assert.equal(errors.length, 2, logged.join(''));
  assert.ok(errors.some((l) => l.includes('sync boom')));
  assert.ok(errors.some((l) => l.includes('async boom')));
});

test('bus: a throwing outbound subscriber does not stop the reply reaching the sender', T, async (t) => {
  const { fake, runtime } = await setup(t);
  runtime.bus.on('outbound', () => {
    throw new Error('broken adapter');
  });
  const { final } = await ask(runtime, 'platform-cli:bus', 'still answered?');
  assert.equal(final.type, 'reply');
  assert.equal(final.content, 'answer to still answered?');
  assert.equal(fake.totalRequests(), 1);
});
