import type { BrineConfig } from '../config/schema.js';
import type { LimitStats } from '../concurrency/limited-pool.js';
import type { RunningTurn } from '../worker/agent-worker.js';

/** `GET /status` (DESIGN.md section 5), plus the running turns per session. */
export interface StatusReport {
  agents: Record<string, { limit: number; running: number; queued: number; oldest_wait_s: number }>;
  /** Sources with a limit of their own (`concurrency.per_source`); empty while it is 0. */
  sources: Record<string, { limit: number; running: number; queued: number }>;
  total: { limit: number; running: number; queued: number };
  /** The turn running in each busy session. */
  sessions: Record<string, { source: string; agent: string; running_s: number }>;
}

/** Builds the status report from the limiter's figures and the worker's running turns. */
export function buildStatus(config: BrineConfig, agents: Record<string, LimitStats>, running: readonly RunningTurn[], now: number): StatusReport {
  const report: StatusReport = {
    agents: {},
    sources: {},
    total: { limit: config.concurrency.max_total, running: 0, queued: 0 },
    sessions: {},
  };
  for (const [id, s] of Object.entries(agents)) {
    report.agents[id] = { limit: s.limit, running: s.running, queued: s.queued, oldest_wait_s: Math.round(s.oldestWaitS * 10) / 10 };
    report.total.running += s.running;
    report.total.queued += s.queued;
  }
  if (config.concurrency.per_source > 0) {
    for (const turn of running) {
      const entry = (report.sources[turn.source] ??= { limit: config.concurrency.per_source, running: 0, queued: 0 });
      entry.running += 1;
    }
  }
  for (const turn of running) {
    report.sessions[turn.sessionId] = { source: turn.source, agent: turn.agentId, running_s: Math.round((now - turn.startedAt) / 100) / 10 };
  }
  return report;
}
