/** Small helpers shared by the scheduling benchmarks. */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTimedFake } from './timed-fake.js';
import type { FakeStats } from './fake-server.js';
import { DEFAULT_WORKSPACE, makeWorkspace, openRuntime } from '../tests/helpers/workspace.js';
import { inboundMessage, type OutboundEvent } from '../src/events.js';
import type { BrineRuntime } from '../src/runtime.js';

export { sleep };

/** The repository root (bench/..). */
const REPO = dirname(dirname(fileURLToPath(import.meta.url)));

/** The agent every benchmark loads (the default workspace's default agent). */
export const AGENT = 'pickle';

/** Source string of benchmark sender `i` (a Discord user in one channel: priority "user"). */
export function sourceOf(i: number): string {
  return `platform-discord:u${i}:c1`;
}

/** Counts work in flight and remembers the peak. */
export class Gauge {
  now = 0;
  peak = 0;
  enter(): void {
    this.now += 1;
    if (this.now > this.peak) this.peak = this.now;
  }
  leave(): void {
    this.now -= 1;
  }
}

/** p-th percentile (0..100, nearest rank) of ascending-sorted values. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

/** A Markdown table. */
export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.map(String).join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

/** `n` with `digits` decimals. */
export function fixed(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : String(n);
}

/** Progress to stderr, so stdout stays the report. */
export function progress(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}

/** Where the fake LLM runs: a child process (default; its CPU is not the runtime's) or this process. */
export type FakePlace = 'child' | 'in-process';

/** A fake LLM answering "ok" after exactly `latencyMs`, on 127.0.0.1. */
interface FakeHandle {
  baseURL: string;
  stats: () => Promise<FakeStats>;
  close: () => Promise<void>;
}

async function startFake(latencyMs: number, place: FakePlace): Promise<FakeHandle> {
  if (place === 'in-process') {
    const { fake, timerMs } = await startTimedFake(latencyMs);
    return {
      baseURL: fake.baseURL,
      stats: async () => ({ requests: fake.totalRequests(), maxInFlight: fake.maxInFlight(), timerMs: timerMs() }),
      close: () => fake.close(),
    };
  }
  const child = fork(fileURLToPath(new URL('./fake-server.ts', import.meta.url)), [String(latencyMs)], {
    cwd: REPO,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`the fake LLM process exited (code ${String(code)})`);
  });
  exited.catch(() => undefined);
  const next = async <T>(): Promise<T> => ((await Promise.race([once(child, 'message'), exited])) as [T])[0];
  const { baseURL } = await next<{ baseURL: string }>();
  return {
    baseURL,
    stats: () => {
      const answer = next<FakeStats>();
      child.send('stats');
      return answer;
    },
    close: async () => {
      const gone = once(child, 'exit');
      child.send('close');
      await gone;
    },
  };
}

/** A real runtime on a temp copy of default_workspace, talking to a fake LLM that answers after `latencyMs`. */
export interface FullPath {
  runtime: BrineRuntime;
  fake: FakeHandle;
  /** Publishes every message at once; resolves with the final events in the order they arrived. */
  sendAll: (messages: readonly { source: string; content: string }[]) => Promise<Final[]>;
  close: () => Promise<void>;
}

/** The final event of one message and when it arrived (performance.now()). */
export interface Final {
  index: number;
  event: OutboundEvent;
  at: number;
}

/**
 * Starts the fake LLM and a BrineRuntime whose agent has `max_concurrency:
 * limit`, with `llm.max_retries: 0`, a silent logger, `concurrency.per_source:
 * perSource` and a queue_limit that never refuses.
 */
export async function startFullPath(options: { limit: number; latencyMs: number; perSource?: number; fake?: FakePlace }): Promise<FullPath> {
  const { limit, latencyMs, perSource = 0 } = options;
  const agentFile = join('agents', AGENT, 'AGENT.md');
  const agentText = (await readFile(join(DEFAULT_WORKSPACE, agentFile), 'utf8')).replace(/^max_concurrency: *\d+$/m, `max_concurrency: ${limit}`);
  if (!agentText.includes(`max_concurrency: ${limit}`)) throw new Error(`${agentFile} has no max_concurrency line to set`);
  const config = [
    'llm:',
    '  model: fake-model',
    '  max_retries: 0',
    'concurrency:',
    `  max_total: ${Math.max(16, limit)}`,
    `  per_source: ${perSource}`,
    '  queue_limit: 100000',
    '',
  ].join('\n');
  const fake = await startFake(latencyMs, options.fake ?? 'child');
  const ws = await makeWorkspace({ 'config.user.yaml': config, [agentFile]: agentText });
  const runtime = await openRuntime(ws.dir, fake.baseURL);
  const sendAll = (messages: readonly { source: string; content: string }[]): Promise<Final[]> => {
    const events = messages.map((m) => inboundMessage(m));
    const indexOf = new Map(events.map((e, i) => [e.id, i]));
    const finals: Final[] = [];
    return new Promise((resolve) => {
      const off = runtime.bus.on('outbound', (out) => {
        if (out.type !== 'reply' && out.type !== 'error') return;
        const index = indexOf.get(out.replyTo);
        if (index === undefined) return;
        finals.push({ index, event: out, at: performance.now() });
        if (finals.length === events.length) {
          off();
          resolve(finals);
        }
      });
      for (const event of events) runtime.bus.publish('inbound', event);
    });
  };
  return {
    runtime,
    fake,
    sendAll,
    close: async () => {
      await runtime.close();
      await fake.close();
      await ws.cleanup();
    },
  };
}
