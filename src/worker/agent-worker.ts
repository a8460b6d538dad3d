import { setMaxListeners } from 'node:events';
import { Mutex } from 'async-mutex';
import { BrineError, describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { EventBus } from '../bus.js';
import type { InboundMessage, OutboundEvent } from '../events.js';
import { priorityOf, Priority, type AdmissionController } from '../concurrency/admission.js';
import { KeyedMutex } from '../concurrency/keyed-mutex.js';
import type { SessionInfo, SessionStore } from '../sessions/types.js';
import type { WorkspaceSnapshot } from '../workspace/workspace.js';
import type { AgentDef } from '../workspace/definitions.js';
import type { DispatchRequest, Dispatcher } from '../tools/dispatch-tool.js';
import { runTurn, type TurnDeps } from '../agent/turn.js';
import type { Tool } from '../tools/types.js';
import { routeSource } from '../routing.js';
import { isModelConfigured, NO_MODEL_MESSAGE } from '../llm/settings.js';
import { parseSlashCommand, type SlashCommandRunner } from '../commands/slash.js';
import type { CommandHost } from '../commands/host.js';

/** A wait longer than this is logged (how long a turn waited for its permits). */
const SLOW_WAIT_MS = 5_000;

/** A turn in progress, as shown by status. */
export interface RunningTurn {
  source: string;
  sessionId: string;
  agentId: string;
  startedAt: number;
}

/** What the worker needs from the process around it. */
export interface AgentWorkerDeps extends TurnDeps {
  bus: EventBus;
  limiter: AdmissionController;
  /** The workspace snapshot in force now (swapped on reload). */
  snapshot: () => WorkspaceSnapshot;
  /** Tools added for some sources (e.g. `post_message` in `cron:` sessions). */
  extraTools?: (source: string) => readonly Tool[];
  /** Slash commands; answered without the LLM and without waiting for the agent. */
  commands?: { runner: SlashCommandRunner; host: CommandHost };
}

/**
 * Routes inbound events to agents and runs their turns. Order of admission:
 * one turn at a time per source (arrival order kept), then the agent's
 * semaphore (first come, first served). Slash commands skip both. Replies,
 * queue notices and errors go out on the bus as {@link OutboundEvent}s.
 */
export class AgentWorker implements Dispatcher {
  readonly #deps: AgentWorkerDeps;
  /** One turn at a time per source, in arrival order. */
  readonly #turnLocks = new KeyedMutex();
  /** Session lookup and queue entry of chat turns, one message at a time (keeps arrival order). */
  readonly #intake = new Mutex();
  /** Finding-or-creating a source's session is atomic (a command and a turn may race). */
  readonly #sessionLocks = new KeyedMutex();
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Turns running now, by inbound id (for status). */
  readonly #running = new Map<string, RunningTurn>();
  /** Aborted by {@link cancelRunning}: every running turn's model call and tools stop. */
  readonly #shutdown = new AbortController();
  #unsubscribe: (() => void) | null = null;
  #draining = false;

  constructor(deps: AgentWorkerDeps) {
    this.#deps = deps;
    // Every waiting turn listens to this one signal; hundreds may wait at once.
    setMaxListeners(0, this.#shutdown.signal);
  }

  /** Starts taking `inbound` events from the bus. */
  start(): void {
    this.#unsubscribe ??= this.#deps.bus.on('inbound', (event) => {
      this.handle(event);
    });
  }

  /** Stops taking new events (running turns go on; see {@link idle}). */
  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }

  /**
   * Starts a drain: turns already running go on, but no waiting turn starts
   * any more; each ends with an error event coded `shutdown` (the server
   * keeps such messages journaled for the next start).
   */
  drain(): void {
    this.#draining = true;
  }

  /** The turns running now. */
  running(): RunningTurn[] {
    return [...this.#running.values()];
  }

  /** Cancels every running and waiting turn (each sender gets an error event). */
  cancelRunning(reason = 'Brine is shutting down.'): void {
    this.#shutdown.abort(new BrineError('shutdown', reason));
  }

  /** Resolves when no event is being handled. */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Handles one inbound event; returns when it has been answered. */
  handle(event: InboundMessage): Promise<void> {
    const command = this.#deps.commands && parseSlashCommand(event.content);
    const runner = this.#deps.commands?.runner;
    let work: Promise<void>;
    if (command && runner?.has(command.name)) {
      const run = () => this.#runCommand(event, command.name, command.args);
      work = runner.changesSession(command.name, command.args) ? this.#turnLocks.run(event.source, run) : run();
    } else {
      // Behind this source's own running turn: say so at once, like any other wait.
      const ahead = this.#turnLocks.users(event.source);
      if (ahead > 0) {
        this.#emit({
          type: 'queued',
          replyTo: event.id,
          source: event.source,
          position: ahead,
          content: `queued behind your earlier message${ahead > 1 ? 's' : ''} (position ${ahead})`,
          ...(event.context && { context: event.context }),
        });
      }
      work = this.#turnLocks.run(event.source, () => this.#runChat(event));
    }
    return this.#track(work);
  }

  /**
   * Finds the source's session, or creates one (routing picks the agent).
   * An explicit `agentId` different from the session's starts a new session.
   */
  async sessionFor(source: string, agentId?: string): Promise<SessionInfo> {
    const snapshot = this.#deps.snapshot();
    if (agentId !== undefined && !snapshot.agents.has(agentId)) {
      throw new BrineError('unknown_agent', `There is no agent "${agentId}". Agents: ${[...snapshot.agents.keys()].join(', ')}.`);
    }
    return this.#sessionLocks.run(source, async () => {
      const current = await this.#deps.store.current(source);
      if (current && (agentId === undefined || current.agentId === agentId)) return current;
      const chosen = agentId ?? routeSource(source, snapshot.config.routing.bindings, snapshot.config.default_agent);
      return this.#deps.store.create({ source, agentId: chosen });
    });
  }

  /** Runs another agent in a child session (the `subagent_dispatch` tool). */
  async dispatch(request: DispatchRequest): Promise<string> {
    const snapshot = this.#deps.snapshot();
    const agent = snapshot.agents.get(request.agentId);
    if (!agent) throw new BrineError('unknown_agent', `There is no agent "${request.agentId}".`);
    const caller = request.chain[request.chain.length - 1] ?? 'unknown';
    const child = await this.#deps.store.create({ source: `agent:${caller}`, agentId: agent.id, parent: request.parentSessionId, bind: false });
    const content = request.context ? `${request.task}\n\nContext:\n${request.context}` : request.task;
    const { dispatch_timeout_s: timeoutS } = snapshot.config.concurrency;
    try {
      return await this.#deps.limiter.run(
        {
          agentId: agent.id,
          source: `agent:${caller}`,
          // A dispatch inherits its parent's priority: a person's request stays a person's request.
          priority: request.parent?.priority ?? Priority.user,
          ...(request.parent && { parent: request.parent }),
          signal: request.signal,
          maxWaitMs: timeoutS * 1000,
        },
        async (admission) => {
          const result = await runTurn(this.#deps, { snapshot, agent, session: child, content, dispatcher: this, signal: request.signal, chain: request.chain, admission });
          return result.reply;
        },
      );
    } catch (err) {
      if (request.signal.aborted && !(err instanceof BrineError)) {
        throw new BrineError('dispatch_aborted', 'The dispatch was cancelled (the calling turn ended or timed out).', { cause: err });
      }
      throw err;
    }
  }

  async #runCommand(event: InboundMessage, name: string, args: string): Promise<void> {
    try {
      const { runner, host } = this.#deps.commands!;
      const content = await runner.run(name, args, { event, host });
      this.#emit({ type: 'reply', replyTo: event.id, source: event.source, content, command: true, ...(event.context && { context: event.context }) });
    } catch (err) {
      this.#emit({
        type: 'error',
        replyTo: event.id,
        source: event.source,
        content: describeError(err),
        command: true,
        code: err instanceof BrineError ? err.code : 'internal',
        ...(event.context && { context: event.context }),
      });
    }
  }

  async #runChat(event: InboundMessage): Promise<void> {
    const base = { replyTo: event.id, source: event.source, ...(event.context && { context: event.context }) };
    let session: SessionInfo | undefined;
    let agent: AgentDef | undefined;
    try {
      const snapshot = this.#deps.snapshot();
      if (!isModelConfigured(snapshot.config, this.#deps.env)) throw new BrineError('llm_not_configured', NO_MODEL_MESSAGE);
      // One message at a time resolves its session and enters the admission
      // queue, in arrival order: the async session lookup must not let a later
      // message (of another source) overtake an earlier one for the agent.
      const { run, turnAgent } = await this.#intake.runExclusive(async () => {
        session = await this.sessionFor(event.source, event.agentId);
        agent = snapshot.agents.get(session.agentId);
        if (!agent) {
          throw new BrineError('unknown_agent', `This conversation's agent "${session.agentId}" no longer exists; use /agent <id> to pick another.`);
        }
        const ids = { sessionId: session.id, agentId: agent.id };
        const turnAgent = agent;
        const turnSession = session;
        const arrived = Date.now();
        const run = this.#deps.limiter.run(
          {
            agentId: agent.id,
            source: event.source,
            priority: priorityOf(event.source),
            signal: this.#shutdown.signal,
            maxWaitMs: snapshot.config.concurrency.queue_timeout_s * 1000,
            onQueued: (position) => this.#emit({ type: 'queued', ...base, ...ids, position, content: `queued (position ${position})` }),
          },
          async (admission) => {
            if (this.#draining) throw new BrineError('shutdown', 'Brine is restarting; this message will be answered after the restart.');
            const waitedMs = Date.now() - arrived;
            if (waitedMs > SLOW_WAIT_MS) this.#deps.logger.info({ agent: turnAgent.id, source: event.source, waitedS: Math.round(waitedMs / 100) / 10 }, 'turn waited before starting');
            this.#emit({ type: 'started', ...base, ...ids, content: '' });
            this.#running.set(event.id, { source: event.source, ...ids, startedAt: Date.now() });
            try {
              const extraTools = this.#deps.extraTools?.(event.source);
              return await runTurn(this.#deps, {
                snapshot: this.#deps.snapshot(),
                agent: turnAgent,
                session: turnSession,
                content: event.content,
                dispatcher: this,
                signal: this.#shutdown.signal,
                admission,
                ...(extraTools && { extraTools }),
              });
            } finally {
              this.#running.delete(event.id);
            }
          },
        );
        run.catch(() => undefined); // awaited just below; this only keeps the rejection from looking unhandled
        return { run, turnAgent };
      });
      const result = await run;
      this.#emit({ type: 'reply', ...base, sessionId: result.session.id, agentId: turnAgent.id, content: result.reply });
    } catch (err) {
      this.#deps.logger.warn({ err, source: event.source, agent: agent?.id, session: session?.id }, 'turn failed');
      this.#emit({
        type: 'error',
        ...base,
        ...(session && { sessionId: session.id }),
        ...(agent && { agentId: agent.id }),
        content: err instanceof BrineError ? err.message : `Something went wrong: ${describeError(err)}`,
        code: this.#shutdown.signal.aborted ? 'shutdown' : err instanceof BrineError ? err.code : 'internal',
      });
    }
  }

  #emit(event: OutboundEvent): void {
    this.#deps.bus.publish('outbound', event);
  }

  #track(work: Promise<void>): Promise<void> {
    this.#inFlight.add(work);
    return work.finally(() => this.#inFlight.delete(work));
  }
}
