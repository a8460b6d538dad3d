/**
 * Property-style tests of the admission policy (DESIGN.md section 4, issue 5
 * "How it will be checked"), driving AdmissionController directly, without an
 * LLM, over random arrival schedules from a seeded PRNG.
 *
 * Every schedule is deterministic: requests arrive, hold their permits until
 * the driver resolves a promise, dispatch children, get cancelled, and limits
 * change, all in an order drawn from mulberry32(seed); between two steps the
 * driver only lets pending microtasks/immediates run (no timers, no sleeping).
 * A failure names its seed; rerun one schedule with ADMISSION_SEED=<seed>.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdmissionController, DispatchDeadlockError, Priority, priorityOf, type Admission } from '../src/concurrency/admission.js';
import { KeyedMutex } from '../src/concurrency/keyed-mutex.js';
import { mulberry32, seeds, type Random } from './helpers/seeded-random.js';

const T = { timeout: 20_000 };
const SCHEDULES = 200;
/** Replay one schedule: ADMISSION_SEED=1234 node --import tsx --test tests/admission-properties.test.ts */
const ONLY = process.env.ADMISSION_SEED === undefined ? undefined : Number(process.env.ADMISSION_SEED);

function seedList(base: number): number[] {
  return ONLY === undefined ? seeds(SCHEDULES, base) : [ONLY];
}

/** Lets every pending microtask and immediate run; nothing here uses timers. */
async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

// ---------------------------------------------------------------------------
// The simulation
// ---------------------------------------------------------------------------

type State = 'new' | 'waiting' | 'running' | 'dispatching' | 'done' | 'refused' | 'cancelled' | 'timedout';

/** One request: a root (a person's or cron's turn) or a dispatched child. */
interface Req {
  id: string;
  agentId: string;
  agentIndex: number;
  source: string;
  priority: number;
  parent: Req | null;
  root: Req;
  /** Agents of the ancestors and this one. */
  chain: string[];
  /** What this run dispatches once its hold is resolved (decided up front). */
  child: Req | null;
  state: State;
  runs: number;
  /** Global sequence numbers of run() being called and of fn starting. */
  arrival: number;
  start: number;
  hold: { promise: Promise<void>; resolve: () => void };
  abort: AbortController;
  admission: Admission | null;
  /** onQueued calls: [position, what it waits for]. */
  queued: [number, string][];
  /** Agent full (in flight >= limit) when the dispatch was made. */
  fullAtArrival: boolean;
}

interface SimOptions {
  /** Children may only go to agents of a higher index (no dispatch cycles possible). */
  acyclic: boolean;
  /** Fixed process-wide limits, or drawn at random. */
  maxTotal?: number;
  perSource?: number;
  cancel: boolean;
  /** Which limits the driver changes on the fly. */
  reconfigure: ('agent' | 'total' | 'source')[];
  dispatchChance: number;
}

interface SimResult {
  roots: Req[];
  all: Req[];
  /** Times the driver found nothing runnable and had to abort a waiting dispatch (its timeout). */
  stuck: string[];
  waits: number;
  refused: number;
  cancelled: number;
  maxQueue: number;
  reconfigured: number;
}

const CANCELLED = new Error('cancelled by the test (the caller gave up)');
const TIMED_OUT = new Error('dispatch timeout (simulated by the test)');

/**
 * One random schedule against a fresh controller. Violations are collected
 * (some are found inside admitted callbacks) and thrown after each step with
 * the seed and the last steps of the trace.
 */
async function simulate(seed: number, options: SimOptions): Promise<SimResult> {
  const rng = mulberry32(seed);
  const agentCount = rng.int(1, 4);
  const agents = Array.from({ length: agentCount }, (_, i) => `a${i}`);
  const limits = new Map(agents.map((a) => [a, rng.int(1, 4)]));
  let maxTotal = options.maxTotal ?? rng.int(1, 6);
  let perSource = options.perSource ?? (rng.chance(0.5) ? 0 : rng.int(1, 2));
  const queueLimit = 10_000;
  const controller = new AdmissionController({ maxTotal, perSource, queueLimit });
  for (const [a, l] of limits) controller.setLimit(a, l);

  const sourcePool = [
    ...Array.from({ length: rng.int(1, 5) }, (_, i) => `platform-cli:u${i}`),
    ...Array.from({ length: rng.int(0, 2) }, (_, i) => `cron:job${i}`),
  ];
  const trace: string[] = [];
  const violations: string[] = [];
  const config = () => `agents ${[...limits].map(([a, l]) => `${a}=${l}`).join(' ')}, max_total ${maxTotal}, per_source ${perSource}`;
  const initialConfig = config();
  const violate = (msg: string) => void violations.push(msg);
  const all: Req[] = [];
  let seq = 0;
  let lowered = false;

  const make = (id: string, agentIndex: number, source: string, priority: number, parent: Req | null, depth: number): Req => {
    const agentId = agents[agentIndex]!;
    const req: Req = {
      id,
      agentId,
      agentIndex,
      source,
      priority,
      parent,
      root: undefined as unknown as Req,
      chain: [...(parent?.chain ?? []), agentId],
      child: null,
      state: 'new',
      runs: 0,
      arrival: -1,
      start: -1,
      hold: deferred(),
      abort: new AbortController(),
      admission: null,
      queued: [],
      fullAtArrival: false,
    };
    req.root = parent?.root ?? req;
    all.push(req);
    const targets = agents
      .map((_, i) => i)
      .filter((i) => !req.chain.includes(agents[i]!) && (!options.acyclic || i > agentIndex));
    if (depth < 2 && targets.length > 0 && rng.chance(options.dispatchChance)) {
      // Like the worker: a child runs as source agent:<caller> with its parent's priority.
      req.child = make(`${id}>`, rng.pick(targets), `agent:${agentId}`, priority, req, depth + 1);
    }
    return req;
  };
  const roots = Array.from({ length: rng.int(4, 18) }, (_, i) => {
    const source = rng.pick(sourcePool);
    const priority = rng.chance(0.5) ? Priority.user : Priority.background;
    return make(`r${i}`, rng.int(0, agentCount - 1), source, priority, null, 0);
  });

  const inFn = (r: Req) => r.state === 'running' || r.state === 'dispatching';
  const agentInFlight = (agentId: string) => all.filter((r) => inFn(r) && r.agentId === agentId).length;
  const sourceInFlight = (source: string) => all.filter((r) => inFn(r) && r.source === source).length;
  const rootsInFlight = () => all.filter((r) => inFn(r) && r.parent === null).length;
  const waiting = (agentId: string) => all.filter((r) => r.state === 'waiting' && r.agentId === agentId);
  let waits = 0;
  let refused = 0;
  let cancelled = 0;
  let maxQueue = 0;
  let reconfigured = 0;

  const start = (req: Req): Promise<void> => {
    req.arrival = seq++;
    req.state = 'waiting';
    req.fullAtArrival = controller.available(req.agentId) <= 0;
    trace.push(`arrive ${req.id} (${req.agentId}, ${req.source}, prio ${req.priority})`);
    const parentAdmission = req.parent?.admission ?? undefined;
    if (req.parent && !parentAdmission) violate(`${req.id}: dispatched before its parent was admitted`);
    return controller
      .run(
        {
          agentId: req.agentId,
          source: req.source,
          priority: req.priority,
          ...(parentAdmission && { parent: parentAdmission }),
          signal: req.abort.signal,
          onQueued: (position, what) => void req.queued.push([position, what]),
        },
        async (admission) => {
          // Admission invariants, checked at the moment fn starts (before counting this run).
          req.runs += 1;
          if (req.runs !== 1) violate(`${req.id} ran ${req.runs} times`);
          if (req.state !== 'waiting') violate(`${req.id} started in state ${req.state}`);
          const limit = limits.get(req.agentId)!;
          if (agentInFlight(req.agentId) >= limit) violate(`${req.id} admitted to ${req.agentId} with ${agentInFlight(req.agentId)} in flight (limit ${limit})`);
          if (perSource > 0 && sourceInFlight(req.source) >= perSource) {
            violate(`${req.id} admitted for source ${req.source} with ${sourceInFlight(req.source)} in flight (per_source ${perSource})`);
          }
          if (!req.parent && rootsInFlight() >= maxTotal) violate(`${req.id} admitted with ${rootsInFlight()} roots in flight (max_total ${maxTotal})`);
          if (admission.agentId !== req.agentId || admission.source !== req.source || admission.priority !== req.priority) {
            violate(`${req.id}: admission ${JSON.stringify({ agentId: admission.agentId, source: admission.source, priority: admission.priority })} does not match the request`);
          }
          if (admission.parent !== (req.parent?.admission ?? null)) violate(`${req.id}: admission.parent is not the parent's admission`);
          if (admission.chain.join('>') !== req.chain.join('>')) violate(`${req.id}: chain ${admission.chain.join('>')}, expected ${req.chain.join('>')}`);
          req.admission = admission;
          req.start = seq++;
          req.state = 'running';
          trace.push(`start ${req.id}`);
          await req.hold.promise;
          if (req.child) {
            req.state = 'dispatching';
            await start(req.child);
          }
          req.state = 'done';
          trace.push(`done ${req.id}`);
        },
      )
      .then(
        () => {
          if (req.state !== 'done') violate(`${req.id} resolved in state ${req.state}`);
        },
        (err: unknown) => {
          if (err instanceof DispatchDeadlockError) {
            refused += 1;
            req.state = 'refused';
            trace.push(`refused ${req.id}`);
            if (!req.parent) violate(`${req.id}: a root was refused as a dispatch deadlock`);
            if (!req.fullAtArrival) violate(`${req.id}: refused although ${req.agentId} had a free permit`);
            if (req.runs !== 0) violate(`${req.id}: refused after it ran`);
          } else if (err === CANCELLED || err === TIMED_OUT) {
            req.state = err === CANCELLED ? 'cancelled' : 'timedout';
            if (req.runs !== 0) violate(`${req.id}: cancelled after it ran`);
          } else {
            violate(`${req.id}: unexpected error ${String(err)}`);
            req.state = 'done';
          }
        },
      );
  };
  const checkStep = (): void => {
    if (!lowered) {
      for (const a of agents) {
        if (agentInFlight(a) > limits.get(a)!) violate(`${a}: ${agentInFlight(a)} in flight, limit ${limits.get(a)}`);
      }
      if (rootsInFlight() > maxTotal) violate(`${rootsInFlight()} roots in flight, max_total ${maxTotal}`);
    }
    // The total pool is the last one taken, so its running count is exactly the admitted roots.
    const total = controller.totalStats();
    if (total.running !== rootsInFlight()) violate(`totalStats().running ${total.running}, roots in flight ${rootsInFlight()}`);
    for (const a of agents) {
      const s = controller.stats(a);
      if (s.running < agentInFlight(a)) violate(`stats(${a}).running ${s.running} < ${agentInFlight(a)} in flight`);
      maxQueue = Math.max(maxQueue, waiting(a).length);
    }
    if (perSource > 0) {
      for (const [source, s] of Object.entries(controller.sourceStats())) {
        if (s.running < sourceInFlight(source)) violate(`sourceStats()[${source}].running ${s.running} < ${sourceInFlight(source)} in flight`);
      }
    }
    if (violations.length > 0) {
      assert.fail(`seed ${seed} (${initialConfig}; now ${config()}):\n  ${violations.join('\n  ')}\nlast steps:\n  ${trace.slice(-25).join('\n  ')}`);
    }
  };

  const stuck: string[] = [];
  let next = 0;
  for (let step = 0; step < 10_000; step++) {
    const runnable = all.filter((r) => r.state === 'running');
    const waitingRoots = all.filter((r) => r.state === 'waiting' && !r.parent);
    const choices: [string, number][] = [];
    if (next < roots.length) choices.push(['arrive', 4]);
    if (runnable.length > 0) choices.push(['finish', 4]);
    if (options.cancel && waitingRoots.length > 0) choices.push(['cancel', 0.4]);
    if (options.reconfigure.length > 0 && (next < roots.length || runnable.length > 0)) choices.push(['reconfigure', 0.4]);
    if (!choices.some(([c]) => c === 'arrive' || c === 'finish')) {
      const blocked = all.filter((r) => r.state === 'waiting');
      if (blocked.length === 0) break;
      const children = blocked.filter((r) => r.parent);
      const describe = blocked.map((r) => `${r.id}(${r.agentId}${r.parent ? ` from ${r.parent.id}` : ''})`).join(', ');
      if (children.length === 0) assert.fail(`seed ${seed} (${initialConfig}): deadlock with no dispatch to time out; waiting: ${describe}\n  ${trace.slice(-25).join('\n  ')}`);
      stuck.push(`seed ${seed} (${initialConfig}): nothing can run; waiting: ${describe}`);
      // What the real dispatch timeout would do.
      const victim = rng.pick(children);
      trace.push(`time out ${victim.id}`);
      victim.abort.abort(TIMED_OUT);
      await flush();
      checkStep();
      continue;
    }
    let weight = rng.next() * choices.reduce((sum, [, w]) => sum + w, 0);
    const choice = choices.find(([, w]) => (weight -= w) < 0)?.[0] ?? choices[choices.length - 1]![0];
    if (choice === 'arrive') {
      const req = roots[next++]!;
      void start(req);
      if (req.queued.length > 0) waits += 1;
    } else if (choice === 'finish') {
      const req = rng.pick(runnable);
      trace.push(`release ${req.id}`);
      req.hold.resolve();
    } else if (choice === 'cancel') {
      const req = rng.pick(waitingRoots);
      trace.push(`cancel ${req.id}`);
      cancelled += 1;
      req.abort.abort(CANCELLED);
    } else {
      reconfigured += 1;
      const what = rng.pick(options.reconfigure);
      if (what === 'agent') {
        const a = rng.pick(agents);
        const limit = rng.int(1, 4);
        if (limit < limits.get(a)!) lowered = true;
        limits.set(a, limit);
        controller.setLimit(a, limit);
      } else {
        const newTotal = what === 'total' ? rng.int(1, 6) : maxTotal;
        const newPerSource = what === 'source' && perSource > 0 ? rng.int(1, 2) : perSource;
        if (newTotal < maxTotal || newPerSource < perSource) lowered = true;
        maxTotal = newTotal;
        perSource = newPerSource;
        controller.configure({ maxTotal, perSource, queueLimit });
      }
      trace.push(`reconfigure: ${config()}`);
    }
    await flush();
    checkStep();
  }
  await flush();
  checkStep();

  // Every request ended exactly one way; nothing leaked.
  const where = `seed ${seed} (${initialConfig})`;
  for (const r of all) {
    const parentRan = !r.parent || r.parent.state === 'done';
    if (!r.parent) {
      assert.ok(r.state === 'done' || r.state === 'cancelled', `${where}: root ${r.id} ended ${r.state}`);
      assert.equal(r.runs, r.state === 'done' ? 1 : 0, `${where}: root ${r.id} ran ${r.runs} times`);
    } else if (parentRan) {
      assert.ok(['done', 'refused', 'timedout'].includes(r.state), `${where}: child ${r.id} ended ${r.state}`);
      assert.equal(r.runs, r.state === 'done' ? 1 : 0, `${where}: child ${r.id} ran ${r.runs} times`);
    } else {
      assert.equal(r.state, 'new', `${where}: child ${r.id} of a parent that never ran`);
    }
  }
  for (const a of agents) {
    assert.deepEqual(controller.stats(a), { limit: limits.get(a)!, running: 0, queued: 0, oldestWaitS: 0 }, `${where}: stats(${a}) at the end`);
    assert.equal(controller.available(a), limits.get(a)!, `${where}: available(${a}) at the end`);
  }
  assert.deepEqual(controller.totalStats(), { limit: maxTotal, running: 0, queued: 0, oldestWaitS: 0 }, `${where}: totalStats() at the end`);
  assert.deepEqual(controller.sourceStats(), {}, `${where}: sourceStats() at the end`);
  return { roots, all, stuck, waits, refused, cancelled, maxQueue, reconfigured };
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

test('random schedules: never over a limit (agent, source, total), each request runs exactly once, every permit comes back', T, async () => {
  let waits = 0;
  let refused = 0;
  let cancelled = 0;
  let maxQueue = 0;
  let children = 0;
  for (const seed of seedList(0xa11)) {
    const r = await simulate(seed, { acyclic: false, cancel: true, reconfigure: [], dispatchChance: 0.3 });
    waits += r.waits;
    refused += r.refused;
    cancelled += r.cancelled;
    maxQueue = Math.max(maxQueue, r.maxQueue);
    children += r.all.filter((q) => q.parent && q.state === 'done').length;
  }
  if (ONLY === undefined) {
    // The generator really exercises queueing, dispatch, refusal and cancellation.
    assert.ok(waits > 200, `only ${waits} roots had to wait`);
    assert.ok(maxQueue >= 4, `longest queue ${maxQueue}`);
    assert.ok(children > 100, `only ${children} dispatched children ran`);
    assert.ok(refused > 0, 'no dispatch was ever refused as a deadlock');
    assert.ok(cancelled > 20, `only ${cancelled} waiters were cancelled`);
  }
  // A stuck state here (longer dispatch cycles) is bounded by the dispatch timeout by design, which the driver simulates.
});

async function reconfiguring(base: number, options: Partial<SimOptions> & Pick<SimOptions, 'reconfigure'>): Promise<void> {
  let reconfigured = 0;
  let waits = 0;
  for (const seed of seedList(base)) {
    const r = await simulate(seed, { acyclic: true, cancel: true, dispatchChance: 0.2, ...options });
    reconfigured += r.reconfigured;
    waits += r.waits;
  }
  if (ONLY === undefined) assert.ok(reconfigured > 100 && waits > 100, `${reconfigured} reconfigurations, ${waits} waits`);
}

test('agent limits changed on the fly (reload of max_concurrency): nobody is admitted while the agent is at its current limit', T, async () => {
  await reconfiguring(0xc0f, { maxTotal: 10_000, perSource: 0, reconfigure: ['agent'] });
});

test('max_total changed on the fly (reload): no root is admitted while the process is at its current max_total', T, async () => {
  await reconfiguring(0x707, { reconfigure: ['total'] });
});

test(
  'every limit changed on the fly: nobody is admitted while an agent, a source or the total is at its current limit',
  T,
  async () => {
    await reconfiguring(0xa77, { reconfigure: ['agent', 'total', 'source'] });
  },
);

test('only the agent limit binds: FIFO within a priority, a higher priority first, exact stats and queue positions, no stuck dispatch', T, async () => {
  let overtakes = 0;
  let fifoPairs = 0;
  for (const seed of seedList(0xf1f0)) {
    const r = await simulate(seed, { acyclic: true, maxTotal: 10_000, perSource: 0, cancel: false, reconfigure: [], dispatchChance: 0.3 });
    assert.deepEqual(r.stuck, [], `seed ${seed}: acyclic dispatches with only agent limits must never be stuck`);
    const byAgent = new Map<string, Req[]>();
    for (const q of r.all) if (q.state === 'done') byAgent.set(q.agentId, [...(byAgent.get(q.agentId) ?? []), q]);
    for (const [agentId, reqs] of byAgent) {
      for (const x of reqs) {
        for (const y of reqs) {
          if (x.arrival >= y.arrival) continue;
          // x arrived first.
          if (x.priority >= y.priority) {
            fifoPairs += 1;
            assert.ok(x.start < y.start, `seed ${seed}: ${agentId}: ${x.id} (prio ${x.priority}) arrived before ${y.id} (prio ${y.priority}) but started after it`);
          } else if (x.start > y.arrival) {
            overtakes += 1;
            assert.ok(y.start < x.start, `seed ${seed}: ${agentId}: ${y.id} (prio ${y.priority}) arrived while ${x.id} (prio ${x.priority}) waited, but was admitted after it`);
          }
        }
      }
    }
  }
  if (ONLY === undefined) {
    assert.ok(fifoPairs > 1000, `only ${fifoPairs} FIFO pairs checked`);
    assert.ok(overtakes > 50, `only ${overtakes} priority overtakes checked`);
  }
});

test('only the agent limit binds: stats().running/queued are exact and onQueued reports the right position at once', T, async () => {
  // A smaller, step-checked variant: one agent, exact figures after every step.
  for (const seed of seedList(0x57a7)) {
    const rng = mulberry32(seed);
    const limit = rng.int(1, 4);
    const controller = new AdmissionController({ maxTotal: 10_000, perSource: 0, queueLimit: 10_000 });
    controller.setLimit('a', limit);
    type R = { id: number; priority: number; state: 'waiting' | 'running' | 'done'; hold: ReturnType<typeof deferred>; position: number | null };
    const reqs: R[] = [];
    const count = rng.int(3, 15);
    while (reqs.length < count || reqs.some((q) => q.state !== 'done')) {
      const running = reqs.filter((q) => q.state === 'running');
      if (reqs.length < count && (running.length === 0 || rng.chance(0.55))) {
        const priority = rng.chance(0.5) ? Priority.user : Priority.background;
        const waiting = reqs.filter((q) => q.state === 'waiting');
        const mustWait = running.length >= limit || waiting.some((w) => w.priority >= priority);
        const expected = mustWait ? waiting.filter((w) => w.priority >= priority).length + 1 : null;
        const q: R = { id: reqs.length, priority, state: 'waiting', hold: deferred(), position: null };
        reqs.push(q);
        void controller.run({ agentId: 'a', source: `s${q.id}`, priority, onQueued: (p) => (q.position = p) }, async () => {
          q.state = 'running';
          await q.hold.promise;
          q.state = 'done';
        });
        assert.equal(q.position, expected, `seed ${seed}: request ${q.id} (prio ${priority}) told position ${q.position}, expected ${expected} (limit ${limit})`);
      } else {
        const q = rng.pick(running);
        q.hold.resolve();
      }
      await flush();
      const s = controller.stats('a');
      const running2 = reqs.filter((q) => q.state === 'running').length;
      const waiting2 = reqs.filter((q) => q.state === 'waiting').length;
      assert.deepEqual([s.running, s.queued], [running2, waiting2], `seed ${seed}: stats vs model (limit ${limit})`);
      assert.equal(controller.available('a'), Math.max(0, limit - running2), `seed ${seed}: available`);
    }
    assert.deepEqual(controller.stats('a'), { limit, running: 0, queued: 0, oldestWaitS: 0 });
  }
});

test(
  'random acyclic dispatch schedules never get stuck, also when max_total binds',
  T,
  async () => {
    const stuck: string[] = [];
    for (const seed of seedList(0xde7)) {
      const r = await simulate(seed, { acyclic: true, maxTotal: undefined, perSource: 0, cancel: false, reconfigure: [], dispatchChance: 0.4 });
      stuck.push(...r.stuck);
    }
    assert.deepEqual(stuck.slice(0, 3), [], `${stuck.length} stuck states, first ones listed`);
  },
);

test(
  'a user message waiting for an agent is admitted before a cron job queued earlier for it, also when max_total binds',
  T,
  async () => {
    const controller = new AdmissionController({ maxTotal: 1, perSource: 0, queueLimit: 100 });
    controller.setLimit('pickle', 1);
    controller.setLimit('cookie', 1);
    const started: string[] = [];
    const holder = deferred();
    const pickle = controller.run({ agentId: 'pickle', source: 'platform-cli:a', priority: priorityOf('platform-cli:a') }, async () => {
      started.push('pickle');
      await holder.promise;
    });
    await flush();
    const cron = controller.run({ agentId: 'cookie', source: 'cron:x', priority: priorityOf('cron:x') }, async () => void started.push('cron'));
    const user = controller.run({ agentId: 'cookie', source: 'platform-cli:u', priority: priorityOf('platform-cli:u') }, async () => void started.push('user'));
    await flush();
    // While both wait, nothing of cookie runs (status must not call the cron job "running").
    const cookieRunning = controller.stats('cookie').running;
    holder.resolve();
    await Promise.all([pickle, cron, user]);
    assert.deepEqual(started, ['pickle', 'user', 'cron'], 'the person before the cron job');
    assert.equal(cookieRunning, 0, 'stats(cookie).running while both cookie requests wait for max_total');
  },
);

// ---------------------------------------------------------------------------
// Per-session order: the worker's KeyedMutex (turn lock) and then admission
// ---------------------------------------------------------------------------

test('random schedules through KeyedMutex then AdmissionController: one turn per key at a time, in arrival order; limits hold', T, async () => {
  let crossKeyOvertakes = 0;
  for (const seed of seedList(0x5e55)) {
    const rng = mulberry32(seed);
    const agents = Array.from({ length: rng.int(1, 3) }, (_, i) => `a${i}`);
    const limits = new Map(agents.map((a) => [a, rng.int(1, 4)]));
    const maxTotal = rng.int(1, 6);
    const perSource = rng.chance(0.5) ? 0 : rng.int(1, 2);
    const controller = new AdmissionController({ maxTotal, perSource, queueLimit: 10_000 });
    for (const [a, l] of limits) controller.setLimit(a, l);
    const locks = new KeyedMutex();
    const keys = [...Array.from({ length: rng.int(1, 4) }, (_, i) => `platform-cli:k${i}`), ...(rng.chance(0.5) ? ['cron:nightly'] : [])];
    // As in the worker, a session's agent is fixed per source.
    const agentOfKey = new Map(keys.map((k) => [k, rng.pick(agents)]));
    type M = { id: string; key: string; agentId: string; state: 'new' | 'waiting' | 'running' | 'done'; hold: ReturnType<typeof deferred>; startedAt: number; runs: number };
    const messages: M[] = Array.from({ length: rng.int(4, 20) }, (_, i) => {
      const key = rng.pick(keys);
      return { id: `m${i}`, key, agentId: agentOfKey.get(key)!, state: 'new', hold: deferred(), startedAt: -1, runs: 0 };
    });
    const where = `seed ${seed} (agents ${[...limits].map(([a, l]) => `${a}=${l}`).join(' ')}, max_total ${maxTotal}, per_source ${perSource})`;
    const startOrder: M[] = [];
    const done: Promise<void>[] = [];
    let next = 0;
    for (let step = 0; step < 10_000; step++) {
      const running = messages.filter((m) => m.state === 'running');
      if (next >= messages.length && running.length === 0) {
        assert.ok(messages.every((m) => m.state === 'done'), `${where}: stuck with ${messages.filter((m) => m.state !== 'done').map((m) => m.id).join(', ')} not done`);
        break;
      }
      if (next < messages.length && (running.length === 0 || rng.chance(0.5))) {
        const m = messages[next++]!;
        m.state = 'waiting';
        done.push(
          locks.run(m.key, () =>
            controller.run({ agentId: m.agentId, source: m.key, priority: priorityOf(m.key) }, async () => {
              m.runs += 1;
              m.state = 'running';
              m.startedAt = startOrder.length;
              startOrder.push(m);
              await m.hold.promise;
              m.state = 'done';
            }),
          ),
        );
      } else {
        rng.pick(running).hold.resolve();
      }
      await flush();
      const inFlight = messages.filter((m) => m.state === 'running');
      for (const key of keys) assert.ok(inFlight.filter((m) => m.key === key).length <= 1, `${where}: two turns of ${key} at once`);
      for (const a of agents) assert.ok(inFlight.filter((m) => m.agentId === a).length <= limits.get(a)!, `${where}: ${a} over its limit`);
      assert.ok(inFlight.length <= maxTotal, `${where}: over max_total`);
    }
    await Promise.all(done);
    for (const key of keys) {
      const ofKey = messages.filter((m) => m.key === key);
      assert.deepEqual(
        ofKey.map((m) => m.id),
        [...ofKey].sort((x, y) => x.startedAt - y.startedAt).map((m) => m.id),
        `${where}: messages of ${key} started out of arrival order`,
      );
    }
    for (const m of messages) assert.equal(m.runs, 1, `${where}: ${m.id} ran ${m.runs} times`);
    crossKeyOvertakes += startOrder.filter((m, i) => i > 0 && Number(m.id.slice(1)) < Number(startOrder[i - 1]!.id.slice(1))).length;
    assert.equal(locks.size, 0, `${where}: KeyedMutex kept keys`);
    for (const a of agents) {
      assert.deepEqual(controller.stats(a), { limit: limits.get(a)!, running: 0, queued: 0, oldestWaitS: 0 }, `${where}: stats(${a})`);
      assert.equal(controller.available(a), limits.get(a)!);
    }
    assert.deepEqual(controller.sourceStats(), {});
  }
  // Messages of different keys do overtake each other (the per-key order is not trivially global).
  if (ONLY === undefined) assert.ok(crossKeyOvertakes > 0);
});
