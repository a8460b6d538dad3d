// The Prometheus figures: limits, running and queued per agent, per limited
// source and for the process are read from the admission policy at scrape
// time; turn counters and the queue-wait histogram come from bus events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BrineMetrics } from '../src/metrics.js';
import { EventBus } from '../src/bus.js';
import { silentLogger } from '../src/logger.js';
import { inboundMessage } from '../src/events.js';

test('gauges follow the admission figures; counters and the wait histogram follow the bus', async () => {
  let now = 1_000;
  const bus = new EventBus(silentLogger());
  let figures = {
    agents: { cookie: { limit: 1, running: 1, queued: 2, oldestWaitS: 3 } },
    sources: { 'agent:pickle': { limit: 1, running: 1, queued: 0, oldestWaitS: 0 } } as Record<string, { limit: number; running: number; queued: number; oldestWaitS: number }>,
    total: { limit: 16, running: 2, queued: 2, oldestWaitS: 1 },
  };
  const metrics = new BrineMetrics(bus, () => figures, () => now);
  const message = inboundMessage({ id: 'm1', source: 'platform-cli:a', content: 'hi' });
  bus.publish('inbound', message);
  now += 2_500;
  bus.publish('outbound', { type: 'started', replyTo: 'm1', source: message.source, agentId: 'cookie', content: '' });
  bus.publish('outbound', { type: 'reply', replyTo: 'm1', source: message.source, agentId: 'cookie', content: 'ok' });
  bus.publish('outbound', { type: 'error', replyTo: 'm2', source: message.source, agentId: 'cookie', content: 'no', code: 'queue_full' });
  metrics.failed('web', false);
  metrics.delivered('web');

  const text = await metrics.text();
  for (const line of [
    'brine_agent_limit{agent="cookie"} 1',
    'brine_agent_running{agent="cookie"} 1',
    'brine_agent_queued{agent="cookie"} 2',
    'brine_agent_oldest_wait_seconds{agent="cookie"} 3',
    'brine_source_limit{source="agent:pickle"} 1',
    'brine_source_running{source="agent:pickle"} 1',
    'brine_total_limit 16',
    'brine_total_queued 2',
    'brine_turns_started_total{agent="cookie"} 1',
    'brine_turns_finished_total{agent="cookie"} 1',
    'brine_turns_failed_total{agent="cookie"} 1',
    'brine_queue_wait_seconds_bucket{le="2",agent="cookie"} 0',
    'brine_queue_wait_seconds_bucket{le="5",agent="cookie"} 1',
    'brine_deliveries_total{channel="web"} 1',
    'brine_delivery_failures_total{channel="web",permanent="false"} 1',
  ]) {
    assert.ok(text.split('\n').includes(line), `missing: ${line}`);
  }

  // A source that stopped waiting disappears at the next scrape.
  figures = { ...figures, sources: {} };
  assert.ok(!(await metrics.text()).includes('brine_source_running{'), 'no stale source series');
});
