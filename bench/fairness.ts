/**
 * (c) Fairness: S sources each send k messages at once (source by source:
 * all of A's, then all of B's, ...) to an agent of limit c; who finishes when.
 */
import { AdmissionController, Priority, priorityOf } from '../src/concurrency/admission.js';
import { KeyedMutex } from '../src/concurrency/keyed-mutex.js';
import { AGENT, sleep, sourceOf, startFullPath } from './lib.js';

export interface FairnessCase {
  label: string;
  layer: 'admission' | 'full path';
  s: number;
  k: number;
  c: number;
  perSource: number;
  /** Admission layer: also take the worker's per-source KeyedMutex (the full path always does). */
  keyed: boolean;
  latencyMs: number;
}

export interface FairnessResult extends FairnessCase {
  /** Completion order: [source, its message number] per finished message. */
  order: [number, number][];
  /** 1-based completion position of each source's last message: lowest and highest. */
  lastMin: number;
  lastMax: number;
  /** Highest 1-based position at which a source got its first answer. */
  firstMax: number;
  /** Longest run of consecutive completions from one source. */
  streak: number;
  /** Aligned windows of S completions holding every source once ("round-robin rounds"), out of k. */
  rounds: number;
  /** Every source's own messages finished in the order sent. */
  perSourceOrder: boolean;
  errors: number;
}

function analyse(cs: FairnessCase, order: [number, number][], errors: number): FairnessResult {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  const seen = new Map<number, number>();
  let perSourceOrder = true;
  let streak = 0;
  let run = 0;
  order.forEach(([src, j], i) => {
    if (!first.has(src)) first.set(src, i + 1);
    last.set(src, i + 1);
    if (j < (seen.get(src) ?? -1)) perSourceOrder = false;
    seen.set(src, j);
    run = i > 0 && order[i - 1]?.[0] === src ? run + 1 : 1;
    streak = Math.max(streak, run);
  });
  let rounds = 0;
  for (let w = 0; w < cs.k; w++) {
    if (new Set(order.slice(w * cs.s, (w + 1) * cs.s).map(([src]) => src)).size === cs.s) rounds += 1;
  }
  const lasts = [...last.values()];
  return {
    ...cs,
    order,
    lastMin: Math.min(...lasts),
    lastMax: Math.max(...lasts),
    firstMax: Math.max(...first.values()),
    streak,
    rounds,
    perSourceOrder,
    errors,
  };
}

/** The first `count` completions as letters (source 0 = A). */
export function picture(order: readonly [number, number][], count: number): string {
  return order
    .slice(0, count)
    .map(([src]) => String.fromCharCode(65 + src))
    .join('');
}

export async function fairness(cs: FairnessCase): Promise<FairnessResult> {
  const sent: { source: number; j: number }[] = [];
  for (let src = 0; src < cs.s; src++) for (let j = 0; j < cs.k; j++) sent.push({ source: src, j });
  if (cs.layer === 'full path') {
    const full = await startFullPath({ limit: cs.c, latencyMs: cs.latencyMs, perSource: cs.perSource });
    try {
      const finals = await full.sendAll(sent.map((m) => ({ source: sourceOf(m.source), content: `message ${m.j}` })));
      const order = finals.map((f): [number, number] => {
        const m = sent[f.index];
        if (!m) throw new Error(`no message ${f.index}`);
        return [m.source, m.j];
      });
      return analyse(cs, order, finals.filter((f) => f.event.type !== 'reply').length);
    } finally {
      await full.close();
    }
  }
  const limiter = new AdmissionController({ maxTotal: Math.max(16, cs.c), perSource: cs.perSource, queueLimit: 100_000 });
  limiter.setLimit(AGENT, cs.c);
  const turnLocks = new KeyedMutex();
  const order: [number, number][] = [];
  const runs = sent.map(({ source: src, j }) => {
    const source = sourceOf(src);
    const once = () =>
      limiter.run({ agentId: AGENT, source, priority: priorityOf(source) }, async () => {
        await sleep(cs.latencyMs);
        order.push([src, j]);
      });
    return cs.keyed ? turnLocks.run(source, once) : once();
  });
  const settled = await Promise.allSettled(runs);
  return analyse(cs, order, settled.filter((r) => r.status === 'rejected').length);
}

export interface PriorityResult {
  count: number;
  /** 1-based start positions of the user messages (after the blocker). */
  userStarts: number[];
  fifoWithinPriority: boolean;
}

/**
 * Priorities: while one turn runs (c = 1), `count` cron messages queue, then
 * `count` user messages; each from its own source. Who starts next?
 */
export async function priorityOrder(count: number, latencyMs: number): Promise<PriorityResult> {
  const limiter = new AdmissionController({ maxTotal: 16, perSource: 0, queueLimit: 100_000 });
  limiter.setLimit(AGENT, 1);
  const starts: { kind: 'cron' | 'user'; i: number }[] = [];
  const turn = (kind: 'cron' | 'user', i: number, source: string) =>
    limiter.run({ agentId: AGENT, source, priority: priorityOf(source) }, async () => {
      starts.push({ kind, i });
      await sleep(latencyMs);
    });
  const blocker = limiter.run({ agentId: AGENT, source: sourceOf(999), priority: Priority.user }, () => sleep(latencyMs));
  const runs = [blocker];
  for (let i = 0; i < count; i++) runs.push(turn('cron', i, `cron:job${i}`));
  for (let i = 0; i < count; i++) runs.push(turn('user', i, sourceOf(i)));
  await Promise.all(runs);
  const inOrder = (kind: 'cron' | 'user') => starts.filter((s) => s.kind === kind).every((s, n) => s.i === n);
  return {
    count,
    userStarts: starts.flatMap((s, n) => (s.kind === 'user' ? [n + 1] : [])),
    fifoWithinPriority: inOrder('cron') && inOrder('user'),
  };
}
