import type { Binding } from '../config/schema.js';
import type { LimitStats } from '../concurrency/limited-pool.js';
import type { SessionInfo, SessionStore } from '../sessions/types.js';
import type { WorkspaceSnapshot } from '../workspace/workspace.js';
import type { ContextUsage } from '../agent/context-guard.js';

/** What slash commands may look at and change; implemented by the runtime. */
export interface CommandHost {
  snapshot(): WorkspaceSnapshot;
  sessions: SessionStore;
  /** The source's session, created (routed) if it has none yet. */
  sessionFor(source: string, agentId?: string): Promise<SessionInfo>;
  /** Starts a fresh session for `source` with `agentId` (for /clear and /agent). */
  startSession(source: string, agentId: string): Promise<SessionInfo>;
  /** Limit, running and queued for every agent. */
  agentStatus(): Record<string, LimitStats>;
  /** The same for sources under `concurrency.per_source` that run or wait now. */
  sourceStatus(): Record<string, LimitStats>;
  /** The whole process against `concurrency.max_total`. */
  totalStatus(): LimitStats;
  /** Token estimate of the session against the window. */
  contextUsage(session: SessionInfo): Promise<ContextUsage>;
  /** Summarizes older turns into a fresh session; null when there is too little to compact. */
  compact(session: SessionInfo): Promise<{ session: SessionInfo; summarized: number } | null>;
  /** Appends a routing binding to config.runtime.yaml and reloads. */
  addBinding(binding: Binding): Promise<void>;
}
