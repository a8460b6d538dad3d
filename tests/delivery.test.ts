// The durable delivery path: DeliveryWorker with the file outbox, and the
// inbound journal. A recording in-test channel stands in for a platform (no
// SDK involved at this level): it can fail or hang on demand.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeliveryWorker } from '../src/channels/delivery-worker.js';
import { PermanentDeliveryError, type ChannelAdapter, type Delivery } from '../src/channels/types.js';
import { FileOutbox } from '../src/durability/file-outbox.js';
import { FileInboundJournal } from '../src/durability/file-journal.js';
import { inboundMessage, type OutboundEvent } from '../src/events.js';
import { silentLogger } from '../src/logger.js';

/** A channel owning `test:` sources that splits on "|" and records every part it sends. */
class RecordingChannel implements ChannelAdapter {
  readonly name = 'test';
  readonly sent: { source: string; part: string; index: number }[] = [];
  /** Per call: return an Error to throw it, a Promise to wait on it, or nothing to succeed. */
  behaviour: (delivery: Delivery, index: number) => Error | Promise<void> | void = () => undefined;
  owns(source: string): boolean {
    return source.startsWith('test:');
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  format(text: string): string[] {
    return text.split('|');
  }
  async send(delivery: Delivery, index: number): Promise<void> {
    const outcome = this.behaviour(delivery, index);
    if (outcome instanceof Error) throw outcome;
    if (outcome) await outcome;
    this.sent.push({ source: delivery.source, part: delivery.chunks[index]!, index });
  }
}

async function tempRoot(t: TestContext): Promise<string> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'brine-delivery-')));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function worker(root: string, channel: RecordingChannel, defaultSource: string | null = null) {
  const outbox = new FileOutbox(root, silentLogger());
  const delivery = new DeliveryWorker({
    outbox,
    adapters: () => [channel],
    defaultDeliverySource: () => defaultSource,
    logger: silentLogger(),
    retry: { baseMs: 5, maxMs: 20, maxAttempts: 5 },
  });
  return { outbox, delivery };
}

const reply = (source: string, content: string): OutboundEvent => ({ type: 'reply', replyTo: 'in-1', source, content });

test('a reply is split by its channel, sent in order, and leaves the outbox once delivered', async (t) => {
  const root = await tempRoot(t);
  const channel = new RecordingChannel();
  const { outbox, delivery } = worker(root, channel);
  const record = await delivery.enqueue(reply('test:a', 'one|two|three'));
  assert.deepEqual(record?.chunks, ['one', 'two', 'three']);
  await delivery.idle();
  assert.deepEqual(channel.sent.map((s) => s.part), ['one', 'two', 'three']);
  assert.deepEqual(await outbox.pending(), []);
  assert.deepEqual(await readdir(join(root, '.events', 'outbox')), []);
});

test('a failed part is retried from that part: parts already sent are never sent again', async (t) => {
  const root = await tempRoot(t);
  const channel = new RecordingChannel();
  let failures = 2;
  channel.behaviour = (_d, index) => (index === 1 && failures-- > 0 ? new Error('platform down') : undefined);
  const { delivery, outbox } = worker(root, channel);
  await delivery.enqueue(reply('test:a', 'one|two|three'));
  await delivery.idle();
  assert.deepEqual(channel.sent.map((s) => s.part), ['one', 'two', 'three']);
  assert.deepEqual(await outbox.pending(), []);
});

test('after a restart, pending deliveries resume at the first unsent part', async (t) => {
  const root = await tempRoot(t);
  const first = new RecordingChannel();
  // Part 1 hangs forever: the "crash" happens while it is in flight.
  let reachedPartTwo = false;
  first.behaviour = (_d, index) => (index === 1 ? ((reachedPartTwo = true), new Promise<void>(() => undefined)) : undefined);
  const a = worker(root, first);
  await a.delivery.enqueue(reply('test:a', 'one|two|three'));
  while (!reachedPartTwo) await new Promise((r) => setImmediate(r));
  const [persisted] = await new FileOutbox(root, silentLogger()).pending();
  assert.equal(persisted?.sent, 1, 'progress is on disk before the next part goes out');

  const second = new RecordingChannel();
  const b = worker(root, second);
  assert.equal(await b.delivery.resume(), 1);
  await b.delivery.idle();
  assert.deepEqual(second.sent.map((s) => s.part), ['two', 'three']);
  assert.deepEqual(await b.outbox.pending(), []);
});

test('a hanging delivery to one source does not hold up another source', async (t) => {
  const root = await tempRoot(t);
  const channel = new RecordingChannel();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  channel.behaviour = (d) => (d.source === 'test:slow' ? gate : undefined);
  const { delivery } = worker(root, channel);
  await delivery.enqueue(reply('test:slow', 'slow'));
  await delivery.enqueue(reply('test:fast', 'fast'));
  while (!channel.sent.some((s) => s.source === 'test:fast')) await new Promise((r) => setImmediate(r));
  assert.deepEqual(channel.sent.map((s) => s.part), ['fast']);
  release();
  await delivery.idle();
  assert.deepEqual(channel.sent.map((s) => s.part), ['fast', 'slow']);
});

test('replies to one source keep their order even when the first one has to retry', async (t) => {
  const root = await tempRoot(t);
  const channel = new RecordingChannel();
  let failed = false;
  channel.behaviour = (d) => (d.chunks[0] === 'first' && !failed ? ((failed = true), new Error('once')) : undefined);
  const { delivery } = worker(root, channel);
  await delivery.enqueue(reply('test:a', 'first'));
  await delivery.enqueue(reply('test:a', 'second'));
  await delivery.idle();
  assert.ok(failed, 'the first reply failed once');
  assert.deepEqual(channel.sent.map((s) => s.part), ['first', 'second']);
});

test('a permanent failure drops the delivery; background replies go to default_delivery_source or nowhere', async (t) => {
  const root = await tempRoot(t);
  const channel = new RecordingChannel();
  channel.behaviour = () => new PermanentDeliveryError('unknown channel');
  const { delivery, outbox } = worker(root, channel, 'test:ops');
  await delivery.enqueue(reply('test:a', 'x'));
  await delivery.idle();
  assert.deepEqual(await outbox.pending(), []);
  assert.equal(channel.sent.length, 0);

  channel.behaviour = () => undefined;
  const cron = await delivery.enqueue({ type: 'reply', replyTo: 'cron:daily:1', source: 'cron:daily', content: 'report' });
  assert.equal(cron?.source, 'test:ops');
  assert.equal(cron?.replyTo, undefined, 'a background reply does not reply to a message of the destination');
  await delivery.idle();
  assert.deepEqual(channel.sent.map((s) => `${s.source} ${s.part}`), ['test:ops report']);

  const nowhere = worker(root, channel, null);
  assert.equal(await nowhere.delivery.enqueue({ type: 'reply', replyTo: '', source: 'cron:daily', content: 'x' }), null);
  assert.equal(await nowhere.delivery.enqueue(reply('platform-discord:1:2', 'no such channel enabled')), null);
});

test('the inbound journal keeps acceptance order, drops duplicates, and forgets answered ids only after removal', async (t) => {
  const root = await tempRoot(t);
  const journal = new FileInboundJournal(root, silentLogger());
  const messages = ['a', 'b', 'c'].map((id) => inboundMessage({ id, source: 'test:x', content: id }));
  const accepted = await Promise.all([...messages, messages[0]!].map((m) => journal.add(m)));
  assert.equal(accepted.filter(Boolean).length, 3, 'the same id arriving twice at once is accepted once');
  const reopened = new FileInboundJournal(root, silentLogger());
  assert.deepEqual((await reopened.pending()).map((m) => m.id), ['a', 'b', 'c']);
  await reopened.remove('b');
  assert.deepEqual((await reopened.pending()).map((m) => m.id), ['a', 'c']);
  assert.equal(await reopened.add(messages[1]!), false, 'a replay of an answered message is dropped');
});
