import type { LimitStats } from '../concurrency/limited-pool.js';
import type { RunningTurn } from '../worker/agent-worker.js';

/** `GET /status` (DESIGN.md section 5), plus the running turns per session. */
export interface StatusReport {
  agents: Record<string, { limit: number; running: number; queued: number; oldest_wait_s: number }>;
  /** Sources running or waiting under `concurrency.per_source`; empty while it is 0. */
  sources: Record<string, { limit: number; running: number; queued: number }>;
  total: { limit: number; running: number; queued: number };
  /** The turn running in each busy session. */
  sessions: Record<string, { source: string; agent: string; running_s: number }>;
}

/** Builds the status report from the admission policy's figures and the worker's running turns. */
export function buildStatus(
  figures: { agents: Record<string, LimitStats>; sources: Record<string, LimitStats>; total: LimitStats },
  running: readonly RunningTurn[],
  now: number,
): StatusReport {
  const report: StatusReport = {
    agents: {},
    sources: {},
    total: { limit: figures.total.limit, running: figures.total.running, queued: figures.total.queued },
    sessions: {},
  };
  for (const [id, s] of Object.entries(figures.agents)) {
    report.agents[id] = { limit: s.limit, running: s.running, queued: s.queued, oldest_wait_s: round1(s.oldestWaitS) };
  }
  for (const [source, s] of Object.entries(figures.sources)) {
    report.sources[source] = { limit: s.limit, running: s.running, queued: s.queued };
  }
  for (const turn of running) {
    report.sessions[turn.sessionId] = { source: turn.source, agent: turn.agentId, running_s: round1((now - turn.startedAt) / 1000) };
  }
  return report;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
