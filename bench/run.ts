/**
 * Brine's scheduling benchmark (issue 5, "Measured, not just tested").
 *
 *   npm run bench                      everything (about 2 minutes)
 *   npm run bench -- --only overhead   some parts (comma list): completion (= completion-admission,
 *                                      completion-full), overhead, fairness
 *   npm run bench -- --full-n 1000     N of the full-path c=1 case (default 200, ~11 s; 1000 takes ~55 s)
 *   npm run bench -- --fake-in-process also run the full path with the fake LLM in this process
 *                                      (by default it runs in a child process, so its CPU is not Brine's)
 *   npm run bench -- --quick           small N everywhere (a smoke run, not for RESULTS.md)
 *
 * Prints a Markdown report on stdout (progress goes to stderr).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { admissionCompletion, fullPathCompletion, type CompletionCase, type CompletionResult } from './completion.js';
import { admissionOverhead, type OverheadCase } from './overhead.js';
import { fairness, picture, priorityOrder, type FairnessCase } from './fairness.js';
import { fixed, progress, table } from './lib.js';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'completion,overhead,fairness' },
    'full-n': { type: 'string', default: '200' },
    quick: { type: 'boolean', default: false },
    'fake-in-process': { type: 'boolean', default: false },
  },
});
const parts = new Set((args.only ?? '').split(',').map((p) => p.trim()));
const known = ['completion', 'completion-admission', 'completion-full', 'overhead', 'fairness'];
for (const part of parts) if (!known.includes(part)) throw new Error(`unknown --only part "${part}"; known: ${known.join(', ')}`);
const want = (part: string) => parts.has(part) || (part.startsWith('completion-') && parts.has('completion'));
const quick = args.quick === true;
const fullN1 = Number(args['full-n']);
if (!Number.isInteger(fullN1) || fullN1 < 1) throw new Error(`--full-n must be a positive integer (got ${args['full-n']})`);

const L = 50;
const S = 50;
const N = quick ? 100 : 1000;
const out = (text = '') => process.stdout.write(`${text}\n`);

/** Which admission code was measured (the tree changes under us): a hash of the scheduling sources. */
async function fingerprint(): Promise<string> {
  const root = new URL('../src/', import.meta.url);
  const files = [...(await readdir(new URL('concurrency/', root))).filter((f) => f.endsWith('.ts')).map((f) => `concurrency/${f}`), 'worker/agent-worker.ts'].sort();
  const hash = createHash('sha256');
  for (const file of files) hash.update(file).update(await readFile(new URL(file, root)));
  return `${hash.digest('hex').slice(0, 12)} (sha256 of src/${files.join(', src/')})`;
}

out(`# Brine scheduling benchmark`);
out();
const load = () => loadavg().map((x) => fixed(x, 2)).join(' ');
out(`${new Date().toISOString()}; node ${process.version}; ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}); ${Math.round(totalmem() / 2 ** 30)} GiB; load average at start: ${load()}${quick ? '; QUICK RUN (small N)' : ''}`);

out(`Code measured: ${await fingerprint()}`);

if (want('completion-admission') || want('completion-full')) {
  const rows: CompletionResult[] = [];
  for (const c of want('completion-admission') ? [1, 4, 16] : []) {
    const cs: CompletionCase = { n: N, c, s: S, latencyMs: L };
    progress(`completion, admission layer, N=${cs.n} c=${c}`);
    rows.push(await admissionCompletion(cs));
  }
  if (want('completion-admission')) {
    // Every message from its own source: nothing serializes them before admission, so all N wait in the controller's queue.
    const cs: CompletionCase = { n: N, c: 16, s: N, latencyMs: L };
    progress(`completion, admission layer, N=${cs.n} c=16 S=${cs.s}`);
    rows.push(await admissionCompletion(cs));
  }
  for (const c of want('completion-full') ? [1, 4, 16] : []) {
    const cs: CompletionCase = { n: quick ? 100 : c === 1 ? fullN1 : 1000, c, s: S, latencyMs: L };
    progress(`completion, full path, N=${cs.n} c=${c}`);
    rows.push(await fullPathCompletion(cs));
    if (args['fake-in-process'] === true) {
      progress(`completion, full path with the fake in-process, N=${cs.n} c=${c}`);
      rows.push(await fullPathCompletion(cs, 'in-process'));
    }
  }
  out();
  out(`## (a) Completion time vs ideal ceil(N/c)*L (L = ${L} ms, messages spread over S sources, goal: efficiency >= 0.98 at N = 1000)`);
  out();
  out(
    table(
      ['layer', 'N', 'c', 'S', 'wall ms', 'ideal ms', 'efficiency', 'overhead/round ms', 'mean timer ms', 'eff. vs real timer', 'peak in flight', 'errors', 'goal'],
      rows.map((r) => [
        r.layer,
        r.n,
        r.c,
        r.s,
        fixed(r.wallMs, 0),
        r.idealMs,
        fixed(r.efficiency, 4),
        fixed(r.overheadPerRoundMs, 2),
        fixed(r.meanTurnMs, 2),
        fixed(r.timerEfficiency, 4),
        r.peak,
        r.errors,
        r.n < 1000 ? `n/a (N=${r.n})` : r.efficiency >= 0.98 && r.errors === 0 && r.peak <= r.c ? 'met' : 'NOT met',
      ]),
    ),
  );
  out();
  out('overhead/round = (wall - ideal) / ceil(N/c). mean timer = what one L-ms setTimeout really took (in the fn, or in the fake LLM handler);');
  out('eff. vs real timer = ceil(N/c) * mean timer / wall, i.e. the efficiency with the timer slack of Node itself taken out.');
  out('Full path: the fake LLM runs in a child process unless the layer says in-process.');
  out('Admission layer: queue_limit is set to N so nothing is refused (with S = N all N messages wait in the controller at once).');
  out('peak in flight = most turns at once (admission: inside fn; full path: the fake LLM maxInFlight) — never above c.');
}

if (want('overhead')) {
  const runs = quick ? 10_000 : 100_000;
  const cases: OverheadCase[] = [
    { label: 'no contention, run() only', runners: 1, c: 1, perSource: 0, keyed: false, runs },
    { label: 'no contention, worker order (KeyedMutex + run, per_source 1)', runners: 1, c: 1, perSource: 1, keyed: true, runs },
    { label: 'contention, run() only', runners: 8, c: 4, perSource: 0, keyed: false, runs },
    { label: 'contention, worker order (per_source 1)', runners: 8, c: 4, perSource: 1, keyed: true, runs },
    { label: 'contention, c = 1, worker order (per_source 1)', runners: 8, c: 1, perSource: 1, keyed: true, runs },
    { label: 'heavy contention, worker order (per_source 1)', runners: 64, c: 16, perSource: 1, keyed: true, runs },
    { label: 'deep queue: 1000 runners, run() only', runners: 1000, c: 16, perSource: 0, keyed: false, runs: runs / 5 },
  ];
  const rows = [];
  for (const cs of cases) {
    progress(`overhead: ${cs.label}`);
    rows.push(await admissionOverhead(cs));
  }
  out();
  out(`## (b) Admission overhead per turn, L = 0 (timed runs per row after a warm-up; goal: p99 < 1 ms)`);
  out();
  out(
    table(
      ['case', 'runners', 'c', 'runs', 'p50 µs', 'p99 µs', 'max µs', 'wall/run µs', 'hand-off p50 / p99 µs', 'goal (p99 < 1000 µs)'],
      rows.map((r) => [
        r.label,
        r.runners,
        r.c,
        r.runs,
        fixed(r.p50Us, 1),
        fixed(r.p99Us, 1),
        fixed(r.maxUs, 0),
        fixed(r.amortizedUs, 2),
        r.c === 1 ? `${fixed(r.handoffP50Us, 1)} / ${fixed(r.handoffP99Us, 1)}` : '–',
        r.p99Us < 1000 ? 'met' : r.runners - r.c > 8 ? `NOT met (round trip is mostly queue wait: ${r.runners - r.c} runs ahead)` : 'NOT met',
      ]),
    ),
  );
  out();
  out('Round trip = from calling run() (through the KeyedMutex where stated) to its promise settling; under contention it includes waiting behind the other runners');
  out('(a runner waits for about runners - c others, so p50 ~ runners x wall/run) and any GC pause lands in every concurrent sample.');
  out('wall/run = total wall time / runs: what one admission costs when the agent is saturated. hand-off (c = 1): idle gap between one fn ending and the next starting.');
}

if (want('fairness')) {
  const base = { s: 8, k: quick ? 5 : 25, c: 2, latencyMs: 10 };
  const cases: FairnessCase[] = [
    { label: 'per_source 0, run() only (FIFO)', layer: 'admission', ...base, perSource: 0, keyed: false },
    { label: 'per_source 1, run() only', layer: 'admission', ...base, perSource: 1, keyed: false },
    { label: 'per_source 1, worker order', layer: 'admission', ...base, perSource: 1, keyed: true },
    { label: 'per_source 0, real runtime', layer: 'full path', ...base, k: quick ? 5 : 10, perSource: 0, keyed: true },
    { label: 'per_source 1, real runtime', layer: 'full path', ...base, k: quick ? 5 : 10, perSource: 1, keyed: true },
  ];
  const rows = [];
  for (const cs of cases) {
    progress(`fairness: ${cs.layer}, ${cs.label}`);
    rows.push(await fairness(cs));
  }
  progress('fairness: priorities');
  const prio = await priorityOrder(10, 10);
  out();
  out(`## (c) Fairness: S sources (A, B, ...) each send k messages at once, source by source (all of A's first), agent limit c, L = ${base.latencyMs} ms`);
  out();
  out(
    table(
      ['layer', 'policy', 'S×k', 'c', "last msg's position per source (min–max)", 'spread', "latest first answer", 'longest streak', 'RR rounds', 'order kept', 'first 24 completions'],
      rows.map((r) => [
        r.layer,
        r.label,
        `${r.s}×${r.k}`,
        r.c,
        `${r.lastMin}–${r.lastMax}`,
        r.lastMax - r.lastMin,
        r.firstMax,
        r.streak,
        `${r.rounds}/${r.k}`,
        r.perSourceOrder && r.errors === 0 ? 'yes' : `NO (${r.errors} errors)`,
        `\`${picture(r.order, 24)}\``,
      ]),
    ),
  );
  out();
  out("spread = highest minus lowest finishing position of the sources' last messages (perfect round-robin: S-1; one source after another: (S-1)·k).");
  out('latest first answer = the completion position at which the last source to be served got its first reply (round-robin: <= S).');
  out('RR rounds = aligned windows of S completions that contain every source once.');
  out();
  out(
    `Priorities (admission layer, c = 1, one turn running): ${prio.count} cron messages queue, then ${prio.count} user messages. ` +
      `User messages started at positions ${prio.userStarts.join(',')} of ${2 * prio.count}; FIFO within each priority: ${prio.fifoWithinPriority ? 'yes' : 'NO'}.`,
  );
}

out();
out(`Load average at the end: ${load()}.`);
