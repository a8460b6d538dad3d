import { ConfigError, type ConfigProblem } from './errors.js';
import { createLogger, type Logger } from './logger.js';
import { EventBus } from './bus.js';
import { loadWorkspace, requireWorkspace, type WorkspaceSnapshot } from './workspace/workspace.js';
import { AdmissionController } from './concurrency/admission.js';
import type { LimitStats } from './concurrency/limited-pool.js';
import { JsonlSessionStore } from './sessions/jsonl-store.js';
import type { SessionInfo, SessionStore } from './sessions/types.js';
import { OpenAiProvider } from './llm/openai-provider.js';
import { resolveLlmSettings, type LlmEnv } from './llm/settings.js';
import type { LlmProvider } from './llm/types.js';
import { AgentWorker } from './worker/agent-worker.js';
import { SlashCommandRunner } from './commands/slash.js';
import { builtinCommands } from './commands/builtin.js';
import type { CommandHost } from './commands/host.js';
import { buildSystemPrompt } from './agent/prompt.js';
import { compactSession, contextUsage, type ContextUsage } from './agent/context-guard.js';
import { appendRuntimeBinding } from './config/runtime-config.js';
import type { Binding } from './config/schema.js';
import type { Tool } from './tools/types.js';

/** Options of {@link BrineRuntime.open}; everything but the workspace has a production default. */
export interface RuntimeOptions {
  workspace: string;
  /** Where secrets and endpoint overrides come from (default: `process.env`). */
  env?: LlmEnv;
  logger?: Logger;
  provider?: LlmProvider;
  store?: SessionStore;
  /** The admission policy (default: in-process semaphores from the config). */
  limiter?: AdmissionController;
  now?: () => Date;
  /** Tools added for some sources (the server adds `post_message` to `cron:` sessions). */
  extraTools?: (source: string) => readonly Tool[];
}

/**
 * The core, assembled: workspace snapshot, event bus, session store, LLM
 * provider, per-agent limiter and the AgentWorker, plus what slash commands
 * need. Adapters get a runtime and talk to it only through `bus`.
 */
export class BrineRuntime implements CommandHost {
  readonly bus: EventBus;
  readonly worker: AgentWorker;
  readonly sessions: SessionStore;
  /** The one admission policy: per agent, per source, process-wide, by priority. */
  readonly limiter: AdmissionController;
  readonly logger: Logger;
  readonly env: LlmEnv;
  readonly #provider: LlmProvider;
  readonly #now: () => Date;
  #snapshot: WorkspaceSnapshot;

  private constructor(snapshot: WorkspaceSnapshot, options: RuntimeOptions) {
    this.#snapshot = snapshot;
    this.logger = options.logger ?? createLogger();
    this.env = options.env ?? process.env;
    this.#now = options.now ?? (() => new Date());
    this.#provider = options.provider ?? new OpenAiProvider(this.env);
    this.sessions = options.store ?? new JsonlSessionStore(snapshot.root, this.logger, this.#now);
    this.limiter = options.limiter ?? new AdmissionController(admissionLimits(snapshot));
    this.#applyLimits(snapshot);
    this.bus = new EventBus(this.logger);
    this.worker = new AgentWorker({
      bus: this.bus,
      limiter: this.limiter,
      snapshot: () => this.#snapshot,
      provider: this.#provider,
      store: this.sessions,
      logger: this.logger,
      env: this.env,
      now: this.#now,
      commands: { runner: new SlashCommandRunner(builtinCommands()), host: this },
      ...(options.extraTools && { extraTools: options.extraTools }),
    });
  }

  /** Loads and validates the workspace once (throws {@link ConfigError} listing every problem) and starts the worker. */
  static async open(options: RuntimeOptions): Promise<BrineRuntime> {
    const runtime = new BrineRuntime(await requireWorkspace(options.workspace), options);
    runtime.worker.start();
    return runtime;
  }

  snapshot(): WorkspaceSnapshot {
    return this.#snapshot;
  }

  /**
   * Reloads the workspace. On success the new snapshot (and any changed
   * `max_concurrency`) applies from now on; on failure the last good one
   * stays in force and the problems are returned.
   */
  async reload(): Promise<ConfigProblem[]> {
    const { snapshot, problems } = await loadWorkspace(this.#snapshot.root);
    if (!snapshot || problems.length > 0) {
      this.logger.error({ problems }, 'workspace reload rejected; keeping the last good config');
      return problems;
    }
    this.#snapshot = snapshot;
    this.#applyLimits(snapshot);
    return [];
  }

  /**
   * Stops intake and waits for running work to finish; with `cancel`, running
   * and waiting turns are aborted first (their senders get an error event).
   */
  async close(options: { cancel?: boolean } = {}): Promise<void> {
    this.worker.stop();
    this.worker.drain();
    if (options.cancel) this.worker.cancelRunning();
    await this.worker.idle();
  }

  sessionFor(source: string, agentId?: string): Promise<SessionInfo> {
    return this.worker.sessionFor(source, agentId);
  }

  startSession(source: string, agentId: string): Promise<SessionInfo> {
    return this.sessions.create({ source, agentId });
  }

  agentStatus(): Record<string, LimitStats> {
    return Object.fromEntries([...this.#snapshot.agents.keys()].map((id) => [id, this.limiter.stats(id)]));
  }

  sourceStatus(): Record<string, LimitStats> {
    return this.limiter.sourceStats();
  }

  totalStatus(): LimitStats {
    return this.limiter.totalStats();
  }

  async contextUsage(session: SessionInfo): Promise<ContextUsage> {
    const snapshot = this.#snapshot;
    const agent = snapshot.agents.get(session.agentId);
    const entries = await this.sessions.load(session.id);
    const system = agent ? buildSystemPrompt(snapshot, agent, { source: session.source, sessionId: session.id, now: this.#now(), dispatchChain: [] }) : '';
    return contextUsage(snapshot.config, system, entries);
  }

  async compact(session: SessionInfo): Promise<{ session: SessionInfo; summarized: number } | null> {
    const snapshot = this.#snapshot;
    return compactSession({
      provider: this.#provider,
      store: this.sessions,
      settings: resolveLlmSettings(snapshot.config, snapshot.agents.get(session.agentId), this.env),
      session,
      entries: await this.sessions.load(session.id),
      keepRecent: snapshot.config.context.keep_recent_messages,
      now: this.#now(),
    });
  }

  async addBinding(binding: Binding): Promise<void> {
    await appendRuntimeBinding(this.#snapshot.root, binding, async () => {
      const problems = await this.reload();
      if (problems.length > 0) throw new ConfigError(problems);
    });
  }

  #applyLimits(snapshot: WorkspaceSnapshot): void {
    this.limiter.configure(admissionLimits(snapshot));
    for (const agent of snapshot.agents.values()) this.limiter.setLimit(agent.id, agent.maxConcurrency);
  }
}

/** `concurrency.*` of a snapshot, as the admission policy takes them. */
function admissionLimits(snapshot: WorkspaceSnapshot) {
  const { max_total: maxTotal, per_source: perSource, queue_limit: queueLimit } = snapshot.config.concurrency;
  return { maxTotal, perSource, queueLimit };
}
