import { BrineError, describeError } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import { BrineRuntime } from '../runtime.js';
import type { InboundMessage, OutboundEvent } from '../events.js';
import type { ChannelAdapter, InboundSink } from '../channels/types.js';
import { DeliveryWorker } from '../channels/delivery-worker.js';
import { FileInboundJournal } from '../durability/file-journal.js';
import { FileOutbox } from '../durability/file-outbox.js';
import type { InboundJournal, Outbox } from '../durability/types.js';
import { BrineMetrics } from '../metrics.js';
import { WorkspaceWatcher } from '../workspace/watcher.js';
import { createPostMessageTool } from '../tools/post-message-tool.js';
import type { LlmEnv } from '../llm/settings.js';
import { isModelConfigured, NO_MODEL_MESSAGE } from '../llm/settings.js';
import { buildStatus, type StatusReport } from './status.js';

/** How long a stop waits for replies to go out before closing the channels. */
const FLUSH_TIMEOUT_MS = 5_000;

/** True if `work` settled within `ms`, false if the time ran out first. */
async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([work.then(() => true, () => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Options of {@link BrineServer.start}. */
export interface ServerOptions {
  workspace: string;
  env?: LlmEnv & NodeJS.ProcessEnv;
  logger?: Logger;
  /**
   * The channel adapters to run, made once the runtime is open (so they can
   * read config, status and metrics from the server). The core never imports
   * an adapter: the caller (adapters/cli/serve.ts) supplies them.
   */
  adapters?: (server: BrineServer) => ChannelAdapter[] | Promise<ChannelAdapter[]>;
  /** Watch the workspace and reload on edits (default true). */
  watch?: boolean;
  /** How long a drain waits for running turns before cancelling them (default 30 s). */
  drainTimeoutMs?: number;
  /** Extra workers with the server's lifetime (the cron worker). */
  services?: (server: BrineServer) => ServerService[];
}

/** A background worker the server starts and stops (cron). */
export interface ServerService {
  readonly name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}

/**
 * `brine serve`: the long-running bot. Composes the runtime (bus, worker,
 * sessions, limiter) with durable intake (inbound journal), durable delivery
 * (outbox + delivery worker), the channel adapters, metrics, hot reload and
 * services such as cron.
 *
 * The message path: adapter -> {@link InboundSink.accept} (journaled) -> bus
 * `inbound` -> AgentWorker -> bus `outbound` -> reply persisted in the outbox,
 * then the journal entry dropped -> DeliveryWorker -> adapter.send. A crash at
 * any point leaves either the accepted message (re-run on start) or the reply
 * (re-sent from its first unsent part), never neither and never both.
 */
export class BrineServer {
  readonly runtime: BrineRuntime;
  readonly logger: Logger;
  readonly journal: InboundJournal;
  readonly outbox: Outbox;
  readonly delivery: DeliveryWorker;
  readonly metrics: BrineMetrics;
  #adapters: ChannelAdapter[] = [];
  #services: ServerService[] = [];
  #watcher: WorkspaceWatcher | null = null;
  readonly #drainTimeoutMs: number;
  readonly #pendingFinals = new Set<Promise<void>>();
  #accepting = false;
  /** Set by stop(): messages still arriving are journaled for the next start, not run. */
  #draining = false;

  private constructor(runtime: BrineRuntime, logger: Logger, options: ServerOptions) {
    this.runtime = runtime;
    this.logger = logger;
    this.#drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
    const root = runtime.snapshot().root;
    this.journal = new FileInboundJournal(root, logger);
    this.outbox = new FileOutbox(root, logger);
    this.metrics = new BrineMetrics(runtime.bus, () => ({ agents: runtime.agentStatus(), sources: runtime.limiter.sourceStats(), total: runtime.limiter.totalStats() }));
    this.delivery = new DeliveryWorker({
      outbox: this.outbox,
      adapters: () => this.#adapters,
      defaultDeliverySource: () => runtime.snapshot().config.default_delivery_source,
      logger,
      observer: this.metrics,
    });
  }

  /** Opens the workspace (throws ConfigError if invalid), resumes persisted work, starts adapters and services. */
  static async start(options: ServerOptions): Promise<BrineServer> {
    const logger = options.logger ?? createLogger();
    let server: BrineServer | undefined;
    const runtime = await BrineRuntime.open({
      workspace: options.workspace,
      logger,
      ...(options.env && { env: options.env }),
      // post_message for background sessions; bound late, the server is made below.
      extraTools: (source) => (source.startsWith('cron:') && server ? [server.#postMessageTool()] : []),
    });
    server = new BrineServer(runtime, logger, options);
    await server.#start(options);
    return server;
  }

  /** `GET /status`. */
  status(): StatusReport {
    const { limiter } = this.runtime;
    return buildStatus({ agents: this.runtime.agentStatus(), sources: limiter.sourceStats(), total: limiter.totalStats() }, this.runtime.worker.running(), Date.now());
  }

  /** The adapters running now. */
  get adapters(): readonly ChannelAdapter[] {
    return this.#adapters;
  }

  /** Where adapters hand inbound messages: journaled first, then on the bus. */
  readonly sink: InboundSink = {
    accept: async (message: InboundMessage): Promise<boolean> => {
      if (!this.#accepting) {
        // A platform may already have acknowledged it (Bolt acks first): keep it for the next start.
        if (this.#draining) return this.journal.add(message);
        throw new BrineError('shutdown', 'Brine is not taking messages now.');
      }
      if (!(await this.journal.add(message))) return false;
      this.runtime.bus.publish('inbound', message);
      return true;
    },
  };

  /** Reloads the workspace now (the watcher calls this after edits). */
  async reload(): Promise<void> {
    const problems = await this.runtime.reload();
    if (problems.length === 0) this.logger.info('workspace reloaded');
  }

  /**
   * Drains and stops: no new messages are accepted; running turns get
   * `drainTimeoutMs` to finish, then are cancelled; replies made meanwhile
   * still go out (channels stop last, after a bounded wait); what is still
   * queued stays in the journal and undelivered replies stay in the outbox,
   * for the next start.
   */
  async stop(): Promise<void> {
    this.#accepting = false;
    this.#draining = true;
    this.#watcher?.stop();
    for (const service of this.#services) await service.stop();
    // Running turns finish; waiting ones stay journaled for the next start.
    this.runtime.worker.stop();
    this.runtime.worker.drain();
    const drained = await within(this.runtime.worker.idle(), this.#drainTimeoutMs);
    if (!drained) this.logger.warn({ timeoutMs: this.#drainTimeoutMs }, 'turns still running at the drain deadline; cancelling them (they resume on the next start)');
    await this.runtime.close({ cancel: !drained });
    await Promise.allSettled([...this.#pendingFinals]);
    await within(this.delivery.idle(), FLUSH_TIMEOUT_MS);
    await Promise.allSettled(this.#adapters.map((a) => a.stop()));
    await this.delivery.stop();
  }

  async #start(options: ServerOptions): Promise<void> {
    const { bus } = this.runtime;
    bus.on('outbound', (event) => this.#onOutbound(event));
    // Services are made (and subscribe to the bus) before resumed work is republished.
    this.#services = options.services?.(this) ?? [];

    // Channels exist (not yet started) before resumed work can produce replies for them.
    this.#adapters = (await options.adapters?.(this)) ?? [];
    // Work from before a restart first, in its original order.
    const undelivered = await this.outbox.pending();
    const answered = new Set(undelivered.map((d) => d.replyTo).filter(Boolean));
    let resumedMessages = 0;
    for (const message of await this.journal.pending()) {
      if (answered.has(message.id)) {
        await this.journal.remove(message.id);
        continue;
      }
      bus.publish('inbound', { ...message, resumed: true });
      resumedMessages += 1;
    }

    this.#accepting = true;
    for (const adapter of this.#adapters) {
      try {
        await adapter.start(this.sink, this.logger.child({ channel: adapter.name }));
        this.logger.info({ channel: adapter.name }, 'channel started');
      } catch (err) {
        this.logger.error({ channel: adapter.name, err: describeError(err) }, 'channel failed to start; the rest of Brine keeps running');
      }
    }
    // Undelivered replies go out once the channels that carry them are up.
    const resumedReplies = await this.delivery.resume();
    if (resumedReplies || resumedMessages) this.logger.info({ resumedReplies, resumedMessages }, 'resumed work from before the restart');
    for (const service of this.#services) await service.start();
    if (options.watch !== false) {
      this.#watcher = new WorkspaceWatcher({ root: this.runtime.snapshot().root, onChange: () => this.reload(), logger: this.logger });
      this.#watcher.start();
    }
    if (!isModelConfigured(this.runtime.snapshot().config, this.runtime.env)) this.logger.warn(NO_MODEL_MESSAGE);
  }

  #onOutbound(event: OutboundEvent): void {
    if (event.type === 'queued' || event.type === 'started') {
      const adapter = this.#adapters.find((a) => a.owns(event.source));
      if (adapter?.notify) {
        Promise.resolve(adapter.notify(event)).catch((err: unknown) => this.logger.debug({ err: describeError(err) }, 'notify failed'));
      }
      return;
    }
    // A turn cancelled by shutdown is not answered: it stays journaled and runs again on start.
    if (event.type === 'error' && event.code === 'shutdown') return;
    const work = (async () => {
      await this.delivery.enqueue(event);
      // Only now is the message answered for good (the reply is persisted).
      if (event.replyTo) await this.journal.remove(event.replyTo);
    })().catch((err: unknown) => this.logger.error({ err, source: event.source }, 'could not persist a reply'));
    this.#pendingFinals.add(work);
    void work.finally(() => this.#pendingFinals.delete(work));
  }

  #postMessageTool() {
    return createPostMessageTool(async (content) => {
      const target = this.runtime.snapshot().config.default_delivery_source;
      if (!target) throw new BrineError('no_destination', 'default_delivery_source is not set in config.user.yaml, so there is nowhere to post; tell the operator');
      const delivery = await this.delivery.enqueue({ type: 'reply', replyTo: '', source: target, content });
      if (!delivery) throw new BrineError('no_destination', `no enabled channel delivers to ${target}`);
      return target;
    });
  }
}
