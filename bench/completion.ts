/**
 * (a) Completion time vs the ideal: N messages from S sources to one agent of
 * limit c, each turn taking L ms. Ideal = ceil(N/c) * L; efficiency = ideal /
 * measured wall time.
 */
import { AdmissionController, priorityOf } from '../src/concurrency/admission.js';
import { KeyedMutex } from '../src/concurrency/keyed-mutex.js';
import { AGENT, Gauge, sleep, sourceOf, startFullPath, type FakePlace } from './lib.js';

export interface CompletionCase {
  n: number;
  c: number;
  s: number;
  latencyMs: number;
}

export interface CompletionResult extends CompletionCase {
  layer: 'admission' | 'full path' | 'full path, fake in-process';
  wallMs: number;
  idealMs: number;
  efficiency: number;
  /** Wall time minus ideal, per round of c turns (what each round cost beyond L). */
  overheadPerRoundMs: number;
  /** ceil(N/c) * meanTurnMs / wall: the efficiency against the L the timers really gave. */
  timerEfficiency: number;
  /** Mean time one turn's L-ms timer (admission) or LLM request as the fake saw it (full path) really took. */
  meanTurnMs: number;
  /** Most turns seen at once (by the fn, or by the fake LLM). */
  peak: number;
  errors: number;
}

function result(layer: CompletionResult['layer'], cs: CompletionCase, wallMs: number, meanTurnMs: number, peak: number, errors: number): CompletionResult {
  const rounds = Math.ceil(cs.n / cs.c);
  const idealMs = rounds * cs.latencyMs;
  return {
    layer,
    ...cs,
    wallMs,
    idealMs,
    efficiency: idealMs / wallMs,
    overheadPerRoundMs: (wallMs - idealMs) / rounds,
    timerEfficiency: (rounds * meanTurnMs) / wallMs,
    meanTurnMs,
    peak,
    errors,
  };
}

/**
 * Admission layer only: the worker's order (per-source KeyedMutex, then
 * AdmissionController.run with the default process limits) around a timer.
 */
export async function admissionCompletion(cs: CompletionCase): Promise<CompletionResult> {
  const limiter = new AdmissionController({ maxTotal: Math.max(16, cs.c), perSource: 0, queueLimit: cs.n });
  limiter.setLimit(AGENT, cs.c);
  const turnLocks = new KeyedMutex();
  const gauge = new Gauge();
  let turnMs = 0;
  const start = performance.now();
  const runs = Array.from({ length: cs.n }, (_, i) => {
    const source = sourceOf(i % cs.s);
    return turnLocks.run(source, () =>
      limiter.run({ agentId: AGENT, source, priority: priorityOf(source) }, async () => {
        gauge.enter();
        const t = performance.now();
        await sleep(cs.latencyMs);
        turnMs += performance.now() - t;
        gauge.leave();
      }),
    );
  });
  const settled = await Promise.allSettled(runs);
  const wallMs = performance.now() - start;
  return result('admission', cs, wallMs, turnMs / cs.n, gauge.peak, settled.filter((r) => r.status === 'rejected').length);
}

/** Full path: a real BrineRuntime, messages on its bus, a fake LLM answering after exactly L ms. */
export async function fullPathCompletion(cs: CompletionCase, fake: FakePlace = 'child'): Promise<CompletionResult> {
  const full = await startFullPath({ limit: cs.c, latencyMs: cs.latencyMs, fake });
  try {
    const messages = Array.from({ length: cs.n }, (_, i) => ({ source: sourceOf(i % cs.s), content: `message ${i}` }));
    const start = performance.now();
    const finals = await full.sendAll(messages);
    const wallMs = performance.now() - start;
    const errors = finals.filter((f) => f.event.type !== 'reply').length;
    const stats = await full.fake.stats();
    if (stats.requests !== cs.n) throw new Error(`the fake LLM saw ${stats.requests} requests for ${cs.n} messages`);
    return result(fake === 'child' ? 'full path' : 'full path, fake in-process', cs, wallMs, stats.timerMs / cs.n, stats.maxInFlight, errors);
  } finally {
    await full.close();
  }
}
