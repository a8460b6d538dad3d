// What a restarted server does with work left from before: replies waiting in
// the outbox are sent once the channels that carry them have started, and a
// message that arrives while the server drains is journaled for the next
// start instead of being lost (a platform may have acknowledged it already).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BrineServer } from '../src/server/brine-server.js';
import { FileOutbox } from '../src/durability/file-outbox.js';
import { FileInboundJournal } from '../src/durability/file-journal.js';
import type { ChannelAdapter, Delivery, InboundSink } from '../src/channels/types.js';
import { inboundMessage } from '../src/events.js';
import { silentLogger } from '../src/logger.js';
import { makeWorkspace } from './helpers/workspace.js';

/** A channel for `test:` sources that records what it sends and exposes its sink. */
class RecordingChannel implements ChannelAdapter {
  readonly name = 'test';
  readonly sent: string[] = [];
  sink: InboundSink | null = null;
  started = false;
  owns(source: string): boolean {
    return source.startsWith('test:');
  }
  async start(sink: InboundSink): Promise<void> {
    this.sink = sink;
    this.started = true;
  }
  async stop(): Promise<void> {}
  format(text: string): string[] {
    return [text];
  }
  async send(delivery: Delivery, index: number): Promise<void> {
    assert.ok(this.started, 'send() is only called on a started channel');
    this.sent.push(`${delivery.source} ${delivery.chunks[index]}`);
  }
}

test('replies left in the outbox are sent after the channels start', { timeout: 20_000 }, async (t) => {
  const ws = await makeWorkspace();
  t.after(() => ws.cleanup());
  await new FileOutbox(ws.dir, silentLogger()).put({
    id: 'left-over',
    source: 'test:alice',
    chunks: ['part one', 'part two'],
    sent: 1,
    kind: 'reply',
    attempts: 0,
    createdAt: new Date().toISOString(),
  });
  const channel = new RecordingChannel();
  const server = await BrineServer.start({ workspace: ws.dir, env: {}, logger: silentLogger(), watch: false, adapters: () => [channel] });
  t.after(() => server.stop());
  await server.delivery.idle();
  assert.deepEqual(channel.sent, ['test:alice part two'], 'only the part not sent before the restart');
  assert.deepEqual(await server.outbox.pending(), []);
});

test('a message arriving during the drain is journaled for the next start, not lost', { timeout: 20_000 }, async (t) => {
  const ws = await makeWorkspace();
  t.after(() => ws.cleanup());
  const channel = new RecordingChannel();
  const server = await BrineServer.start({ workspace: ws.dir, env: {}, logger: silentLogger(), watch: false, adapters: () => [channel] });
  const stopping = server.stop();
  const late = inboundMessage({ id: 'late-1', source: 'test:bob', content: 'just in time?' });
  assert.equal(await channel.sink!.accept(late), true);
  await stopping;
  const pending = await new FileInboundJournal(ws.dir, silentLogger()).pending();
  assert.deepEqual(pending.map((m) => m.id), ['late-1']);
});
