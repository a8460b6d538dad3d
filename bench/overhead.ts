/**
 * (b) Admission overhead per turn, L = 0: each run's round trip (take the
 * permits, run an immediately resolving fn, give them back) timed with
 * process.hrtime.bigint.
 */
import { AdmissionController, priorityOf } from '../src/concurrency/admission.js';
import { KeyedMutex } from '../src/concurrency/keyed-mutex.js';
import { AGENT, percentile, sourceOf } from './lib.js';

export interface OverheadCase {
  label: string;
  /** Concurrent runners, each with its own source, each doing runs back to back. */
  runners: number;
  /** The agent's limit. */
  c: number;
  /** `concurrency.per_source` (0 = off). */
  perSource: number;
  /** Also take the worker's per-source KeyedMutex around each run. */
  keyed: boolean;
  runs: number;
}

export interface OverheadResult extends OverheadCase {
  p50Us: number;
  p99Us: number;
  maxUs: number;
  /** Wall time / runs: the cost of one turn's admission when runs are back to back. */
  amortizedUs: number;
  /** c = 1 only: p50 and p99 of the idle gap between one fn ending and the next starting (release + hand-off + acquire). */
  handoffP50Us: number;
  handoffP99Us: number;
}

const done = (): Promise<void> => Promise.resolve();

async function measure(cs: OverheadCase, runs: number, samples: Float64Array | null, gaps: Float64Array | null): Promise<number> {
  const limiter = new AdmissionController({ maxTotal: Math.max(16, cs.c), perSource: cs.perSource, queueLimit: 1_000_000 });
  limiter.setLimit(AGENT, cs.c);
  const turnLocks = new KeyedMutex();
  let next = 0;
  // With c = 1 the fns run one after another: time the gap between them.
  let lastEnd = 0n;
  let gap = 0;
  const timed = (): Promise<void> => {
    const t = process.hrtime.bigint();
    if (gaps && lastEnd !== 0n) gaps[gap++] = Number(t - lastEnd) / 1000;
    lastEnd = process.hrtime.bigint();
    return done();
  };
  const fn = cs.c === 1 && gaps ? timed : done;
  const runner = async (r: number): Promise<void> => {
    const source = sourceOf(r);
    const request = { agentId: AGENT, source, priority: priorityOf(source) };
    const once = () => limiter.run(request, fn);
    for (let i = next++; i < runs; i = next++) {
      const t = process.hrtime.bigint();
      await (cs.keyed ? turnLocks.run(source, once) : once());
      if (samples) samples[i] = Number(process.hrtime.bigint() - t) / 1000;
    }
  };
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: cs.runners }, (_, r) => runner(r)));
  const wallUs = Number(process.hrtime.bigint() - start) / 1000;
  if (limiter.available(AGENT) !== cs.c) throw new Error(`a permit leaked: ${limiter.available(AGENT)} of ${cs.c} free`);
  return wallUs;
}

export async function admissionOverhead(cs: OverheadCase): Promise<OverheadResult> {
  await measure(cs, Math.min(20_000, cs.runs), null, null); // warm-up (JIT)
  const samples = new Float64Array(cs.runs);
  const gaps = new Float64Array(cs.runs - 1);
  const wallUs = await measure(cs, cs.runs, samples, gaps);
  samples.sort();
  gaps.sort();
  const handoff = cs.c === 1;
  return {
    ...cs,
    p50Us: percentile(samples, 50),
    p99Us: percentile(samples, 99),
    maxUs: percentile(samples, 100),
    amortizedUs: wallUs / cs.runs,
    handoffP50Us: handoff ? percentile(gaps, 50) : Number.NaN,
    handoffP99Us: handoff ? percentile(gaps, 99) : Number.NaN,
  };
}
