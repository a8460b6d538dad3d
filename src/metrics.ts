import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EventBus } from './bus.js';
import type { DeliveryObserver } from './channels/delivery-worker.js';
import type { LimitStats } from './concurrency/limited-pool.js';

/**
 * Prometheus metrics (prom-client), fed from the bus so no worker code knows
 * about them: turns started/finished/failed per agent, how long turns waited
 * before starting, running and queued per agent (read at scrape time), and
 * deliveries with their failures per channel.
 */
export class BrineMetrics implements DeliveryObserver {
  readonly registry = new Registry();
  readonly #arrivals = new Map<string, number>();
  readonly #turnsStarted: Counter<'agent'>;
  readonly #turnsFinished: Counter<'agent'>;
  readonly #turnsFailed: Counter<'agent'>;
  readonly #queueWait: Histogram<'agent'>;
  readonly #deliveries: Counter<'channel'>;
  readonly #deliveryFailures: Counter<'channel' | 'permanent'>;

  constructor(
    bus: EventBus,
    figures: () => { agents: Record<string, LimitStats>; sources: Record<string, LimitStats>; total: LimitStats },
    now: () => number = Date.now,
  ) {
    const registers = [this.registry];
    this.#turnsStarted = new Counter({ name: 'brine_turns_started_total', help: 'Agent turns started', labelNames: ['agent'], registers });
    this.#turnsFinished = new Counter({ name: 'brine_turns_finished_total', help: 'Agent turns answered', labelNames: ['agent'], registers });
    this.#turnsFailed = new Counter({ name: 'brine_turns_failed_total', help: 'Agent turns that ended in an error', labelNames: ['agent'], registers });
    this.#queueWait = new Histogram({
      name: 'brine_queue_wait_seconds',
      help: 'Time from a message arriving to its turn starting',
      labelNames: ['agent'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900],
      registers,
    });
    // Limit figures are read from the admission policy at scrape time, never stored twice.
    type Pick = (s: LimitStats) => number;
    const perKey = (label: 'agent' | 'source', rows: () => Record<string, LimitStats>) => (name: string, help: string, pick: Pick) =>
      new Gauge({
        name,
        help,
        labelNames: [label],
        registers,
        collect() {
          this.reset();
          for (const [key, stats] of Object.entries(rows())) this.set({ [label]: key }, pick(stats));
        },
      });
    const agentGauge = perKey('agent', () => figures().agents);
    const sourceGauge = perKey('source', () => figures().sources);
    const totalGauge = (name: string, help: string, pick: Pick) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(pick(figures().total));
        },
      });
    agentGauge('brine_agent_running', 'Turns running now, per agent', (s) => s.running);
    agentGauge('brine_agent_queued', 'Turns waiting for a permit, per agent', (s) => s.queued);
    agentGauge('brine_agent_limit', 'max_concurrency per agent', (s) => s.limit);
    agentGauge('brine_agent_oldest_wait_seconds', 'How long the oldest waiting turn has waited, per agent', (s) => s.oldestWaitS);
    sourceGauge('brine_source_running', 'Turns running now, per limited source (concurrency.per_source)', (s) => s.running);
    sourceGauge('brine_source_queued', 'Turns waiting, per limited source', (s) => s.queued);
    sourceGauge('brine_source_limit', 'concurrency.per_source, per limited source', (s) => s.limit);
    sourceGauge('brine_source_oldest_wait_seconds', 'How long the oldest waiting turn has waited, per limited source', (s) => s.oldestWaitS);
    totalGauge('brine_total_limit', 'concurrency.max_total', (s) => s.limit);
    totalGauge('brine_total_running', 'Turns running now in the process (concurrency.max_total)', (s) => s.running);
    totalGauge('brine_total_queued', 'Turns waiting for a process slot', (s) => s.queued);
    this.#deliveries = new Counter({ name: 'brine_deliveries_total', help: 'Replies delivered', labelNames: ['channel'], registers });
    this.#deliveryFailures = new Counter({ name: 'brine_delivery_failures_total', help: 'Failed delivery attempts', labelNames: ['channel', 'permanent'], registers });

    bus.on('inbound', (event) => {
      this.#arrivals.set(event.id, now());
    });
    bus.on('outbound', (event) => {
      if (event.command || !event.agentId) {
        if (event.type === 'reply' || event.type === 'error') this.#arrivals.delete(event.replyTo);
        return;
      }
      const agent = event.agentId;
      if (event.type === 'started') {
        this.#turnsStarted.inc({ agent });
        const arrived = this.#arrivals.get(event.replyTo);
        if (arrived !== undefined) this.#queueWait.observe({ agent }, (now() - arrived) / 1000);
      } else if (event.type === 'reply') {
        this.#turnsFinished.inc({ agent });
        this.#arrivals.delete(event.replyTo);
      } else if (event.type === 'error') {
        this.#turnsFailed.inc({ agent });
        this.#arrivals.delete(event.replyTo);
      }
    });
  }

  delivered(channel: string): void {
    this.#deliveries.inc({ channel });
  }

  failed(channel: string, permanent: boolean): void {
    this.#deliveryFailures.inc({ channel, permanent: String(permanent) });
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
