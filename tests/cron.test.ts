/**
 * The cron worker: minute-exact firing from a fake clock (no real waiting),
 * catch-up after a stall, hot-reloaded jobs, one-off removal (also across a
 * restart), and post_message from a cron session, through a real BrineServer,
 * its worker and the fake LLM.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BrineServer } from '../src/server/brine-server.js';
import { CronService, type CronHost } from '../src/cron/cron-service.js';
import { cronMatches, cronRunId, parseCronRunId } from '../src/cron/schedule.js';
import { EventBus } from '../src/bus.js';
import { silentLogger } from '../src/logger.js';
import type { InboundMessage, OutboundEvent } from '../src/events.js';
import type { ChannelAdapter, Delivery } from '../src/channels/types.js';
import type { CronDef } from '../src/workspace/definitions.js';
import type { WorkspaceSnapshot } from '../src/workspace/workspace.js';
import { startFakeLlm, type FakeHandler, type FakeLlm } from './fakes/fake-llm.js';
import { makeWorkspace, ask, tempDir } from './helpers/workspace.js';
import { FakeClock } from './helpers/fake-clock.js';

const START = '2025-01-06T08:59:30.000Z'; // a Monday; the first boundary is 09:00 UTC
const MIN = 60_000;

function cronMd(fields: { schedule: string; agent?: string; oneOff?: boolean }, prompt = 'Run the job.'): string {
  return `---\nname: Test job\ndescription: a test\nagent: ${fields.agent ?? 'pickle'}\nschedule: "${fields.schedule}"\none_off: ${fields.oneOff ?? false}\n---\n${prompt}\n`;
}

function minuteIds(cronId: string, ...hhmm: string[]): string[] {
  return hhmm.map((t) => cronRunId(cronId, new Date(`2025-01-06T${t}:00.000Z`)));
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Resolves when `predicate` holds, re-checked on every `kick()`; fails after a (real-time) guard instead of hanging. */
class Waiters {
  readonly #waiting = new Set<{ check: () => boolean; resolve: () => void }>();

  until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const entry = {
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiting.delete(entry);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      this.#waiting.add(entry);
    });
  }

  kick(): void {
    for (const entry of [...this.#waiting]) {
      if (entry.check()) {
        this.#waiting.delete(entry);
        entry.resolve();
      }
    }
  }
}

/** A web-chat-like adapter that owns `platform-ws:` and records what it sends. */
class RecordingAdapter implements ChannelAdapter {
  readonly name = 'test-ws';
  readonly sent: { source: string; text: string }[] = [];
  constructor(readonly waiters: Waiters) {}
  owns(source: string): boolean {
    return source.startsWith('platform-ws:');
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  format(text: string): string[] {
    return [text];
  }
  async send(delivery: Delivery, index: number): Promise<void> {
    this.sent.push({ source: delivery.source, text: delivery.chunks[index] ?? '' });
    this.waiters.kick();
  }
}

interface CronRig {
  dir: string;
  fake: FakeLlm;
  clock: FakeClock;
  server: BrineServer;
  cron: CronService;
  adapter: RecordingAdapter;
  waiters: Waiters;
  /** Cron runs handed to the bus, in order. */
  inbound: InboundMessage[];
  /** Final (`reply`/`error`) events of cron runs. */
  finals: OutboundEvent[];
  /** Moves the fake clock `n` minutes, one at a time, waiting for each check. */
  minutes(n: number): Promise<void>;
  /** Starts (another) server on the same workspace and fake LLM; the previous one must be stopped. */
  restart(clockStart?: string): Promise<void>;
}

/** A temp workspace (default_workspace + files), the fake LLM and a BrineServer with a CronService on a fake clock. */
async function setup(t: TestContext, files: Record<string, string>, options: { handler?: FakeHandler; hold?: boolean } = {}): Promise<CronRig> {
  const ws = await makeWorkspace(files);
  const fake = await startFakeLlm({ ...(options.handler && { handler: options.handler }), holdRequests: options.hold ?? false });
  const waiters = new Waiters();
  const rig = {
    dir: ws.dir,
    fake,
    waiters,
    adapter: new RecordingAdapter(waiters),
    inbound: [] as InboundMessage[],
    finals: [] as OutboundEvent[],
  } as CronRig;
  const servers: BrineServer[] = [];
  rig.restart = async (clockStart = START) => {
    rig.clock = new FakeClock(clockStart);
    rig.server = await BrineServer.start({
      workspace: ws.dir,
      env: { OPENAI_BASE_URL: fake.baseURL },
      logger: silentLogger(),
      watch: false,
      drainTimeoutMs: 200,
      adapters: () => [rig.adapter],
      services: (s) => {
        // Subscribed as early as the cron service itself, before a resumed run can end.
        s.runtime.bus.on('inbound', (m) => {
          if (m.source.startsWith('cron:')) rig.inbound.push(m);
          waiters.kick();
        });
        s.runtime.bus.on('outbound', (e) => {
          if ((e.type === 'reply' || e.type === 'error') && e.source.startsWith('cron:')) rig.finals.push(e);
          waiters.kick();
        });
        rig.cron = new CronService({ server: s, clock: rig.clock });
        return [rig.cron];
      },
    });
    servers.push(rig.server);
  };
  rig.minutes = async (n) => {
    for (let i = 0; i < n; i++) {
      rig.clock.advance(MIN);
      await rig.cron.idle();
    }
  };
  t.after(async () => {
    fake.holdRequests = false;
    fake.releaseAll();
    for (const server of servers) await server.stop();
    await fake.close();
    await ws.cleanup();
  });
  await rig.restart();
  return rig;
}

/** Waits for the final event of each run seen so far, then for the cron worker's follow-up work. */
async function allAnswered(rig: CronRig): Promise<void> {
  await rig.waiters.until(() => rig.inbound.every((m) => rig.finals.some((e) => e.replyTo === m.id)), 'every cron run to be answered');
  await rig.cron.idle();
}

describe('cronMatches (pure)', () => {
  test('5-field schedules, read in UTC, seconds ignored', () => {
    assert.equal(cronMatches('* * * * *', new Date('2025-01-06T09:07:00Z')), true);
    assert.equal(cronMatches('*/2 * * * *', new Date('2025-01-06T09:04:00Z')), true);
    assert.equal(cronMatches('*/2 * * * *', new Date('2025-01-06T09:05:00Z')), false);
    // 09:00 UTC on weekdays: Monday yes, Sunday no, 09:01 no, 09:00:45 still that minute.
    assert.equal(cronMatches('0 9 * * 1-5', new Date('2025-01-06T09:00:00Z')), true);
    assert.equal(cronMatches('0 9 * * 1-5', new Date('2025-01-05T09:00:00Z')), false);
    assert.equal(cronMatches('0 9 * * 1-5', new Date('2025-01-06T09:01:00Z')), false);
    assert.equal(cronMatches('0 9 * * 1-5', new Date('2025-01-06T09:00:45.500Z')), true);
    // Day-of-month and day-of-week both restricted: either matches (standard cron).
    assert.equal(cronMatches('0 0 1 * 1', new Date('2025-01-06T00:00:00Z')), true);
    assert.equal(cronMatches('0 0 1 * 1', new Date('2025-01-07T00:00:00Z')), false);
    // Another zone only when asked: 10:00 in Berlin is 09:00 UTC in winter.
    assert.equal(cronMatches('0 10 * * *', new Date('2025-01-06T09:00:00Z'), 'Europe/Berlin'), true);
    assert.equal(cronMatches('0 10 * * *', new Date('2025-01-06T09:00:00Z')), false);
    assert.throws(() => cronMatches('61 * * * *', new Date('2025-01-06T09:00:00Z')));
  });

  test('run ids name the job and the minute, and parse back', () => {
    const id = cronRunId('daily-report', new Date('2025-01-06T09:00:42.123Z'));
    assert.equal(id, 'cron:daily-report:2025-01-06T09:00:00.000Z');
    assert.deepEqual(parseCronRunId(id), { cronId: 'daily-report', minute: new Date('2025-01-06T09:00:00.000Z') });
    assert.equal(parseCronRunId('in-abc'), null);
    assert.equal(parseCronRunId('cron:x'), null);
  });
});

describe('CronService in a BrineServer', () => {
  test('"* * * * *" runs once per minute, at each boundary, for 5 minutes', async (t) => {
    const rig = await setup(t, { 'crons/tick/CRON.md': cronMd({ schedule: '* * * * *' }, 'Say tick.') });
    assert.equal(rig.clock.nextTimerAt()?.toISOString(), '2025-01-06T09:00:00.000Z');
    for (let i = 0; i < 5; i++) {
      await rig.minutes(1);
      // Each timer is set to the next boundary from the clock: no drift.
      assert.equal(rig.clock.nextTimerAt()?.getTime(), new Date('2025-01-06T09:01:00.000Z').getTime() + i * MIN);
    }
    assert.deepEqual(
      rig.inbound.map((m) => m.id),
      minuteIds('tick', '09:00', '09:01', '09:02', '09:03', '09:04'),
    );
    for (const m of rig.inbound) {
      assert.equal(m.source, 'cron:tick');
      assert.equal(m.agentId, 'pickle');
      assert.equal(m.content.trim(), 'Say tick.');
    }
    await allAnswered(rig);
    assert.deepEqual(rig.finals.map((e) => e.type), ['reply', 'reply', 'reply', 'reply', 'reply']);
    assert.equal(rig.fake.requests.length, 5);
    await rig.server.stop(); // waits for the answers to be persisted
    assert.deepEqual(await rig.server.journal.pending(), [], 'every run answered and out of the journal');
  });

  test('"*/2 * * * *" runs at even minutes only', async (t) => {
    const rig = await setup(t, { 'crons/even/CRON.md': cronMd({ schedule: '*/2 * * * *' }) });
    await rig.minutes(6); // 09:00 .. 09:05
    assert.deepEqual(
      rig.inbound.map((m) => m.id),
      minuteIds('even', '09:00', '09:02', '09:04'),
    );
    await allAnswered(rig);
  });

  test('a stall over 3 boundaries checks each missed minute exactly once, then stays on the boundary', async (t) => {
    const rig = await setup(t, { 'crons/tick/CRON.md': cronMd({ schedule: '* * * * *' }) });
    rig.clock.jump(2 * MIN + 50_000); // 08:59:30 -> 09:02:20; the 09:00 timer did not get to run
    assert.equal(rig.inbound.length, 0);
    rig.clock.runDue(); // it runs late
    await rig.cron.idle();
    assert.deepEqual(
      rig.inbound.map((m) => m.id),
      minuteIds('tick', '09:00', '09:01', '09:02'),
    );
    assert.equal(rig.clock.nextTimerAt()?.toISOString(), '2025-01-06T09:03:00.000Z', 'next check at the boundary, not 60 s after the late one');
    rig.clock.advance(40_000);
    await rig.cron.idle();
    assert.deepEqual(
      rig.inbound.map((m) => m.id),
      minuteIds('tick', '09:00', '09:01', '09:02', '09:03'),
    );
    await allAnswered(rig);
    assert.equal(rig.fake.requests.length, 4);
  });

  test('a job added by editing the workspace is picked up after the reload', async (t) => {
    const rig = await setup(t, {});
    await rig.minutes(1);
    assert.equal(rig.inbound.length, 0);
    await mkdir(join(rig.dir, 'crons', 'late'), { recursive: true });
    await writeFile(join(rig.dir, 'crons', 'late', 'CRON.md'), cronMd({ schedule: '* * * * *' }, 'New job.'));
    await rig.server.reload();
    assert.ok(rig.server.runtime.snapshot().crons.has('late'));
    await rig.minutes(1);
    assert.deepEqual(
      rig.inbound.map((m) => m.id),
      minuteIds('late', '09:01'),
    );
    await allAnswered(rig);
  });

  test('a one-off job runs once; its folder goes only after its reply, and /crons no longer lists it', async (t) => {
    const rig = await setup(t, { 'crons/once/CRON.md': cronMd({ schedule: '* * * * *', oneOff: true }, 'Do it once.') }, { hold: true });
    const folder = join(rig.dir, 'crons', 'once');
    await rig.minutes(1);
    assert.deepEqual(
      rig.inbound.map((m) => m.id),
      minuteIds('once', '09:00'),
    );
    await rig.fake.waitForPending(1);
    // Running, not answered: the folder stays; later minutes do not run it again.
    await rig.minutes(2);
    assert.equal(rig.inbound.length, 1);
    assert.ok(await exists(folder), 'folder kept while the run is in progress');
    assert.ok(await exists(join(rig.dir, '.events', 'cron', 'once.json')));

    rig.fake.holdRequests = false;
    rig.fake.releaseAll();
    await allAnswered(rig);
    assert.equal(rig.finals[0]?.type, 'reply');
    assert.equal(await exists(folder), false, 'folder removed after the reply');
    assert.equal(await exists(join(rig.dir, '.events', 'cron', 'once.json')), false);
    assert.equal(rig.server.runtime.snapshot().crons.has('once'), false, 'reloaded');
    const { final } = await ask(rig.server.runtime, 'platform-cli:tester', '/crons');
    assert.match(final.content, /No cron jobs/);
    await rig.minutes(2);
    assert.equal(rig.inbound.length, 1);
  });

  test('a one-off run cut by a restart resumes and still removes the folder', async (t) => {
    const rig = await setup(t, { 'crons/once/CRON.md': cronMd({ schedule: '* * * * *', oneOff: true }, 'Do it once.') }, { hold: true });
    const folder = join(rig.dir, 'crons', 'once');
    await rig.minutes(1);
    const [run] = rig.inbound;
    assert.ok(run);
    await rig.fake.waitForPending(1);
    await rig.server.stop(); // drain times out; the turn is cancelled and stays journaled
    assert.ok(await exists(folder), 'not removed: the run did not finish');
    assert.deepEqual((await rig.server.journal.pending()).map((m) => m.id), [run.id]);

    rig.fake.holdRequests = false;
    await rig.restart('2025-01-06T09:00:40.000Z'); // same minute: nothing new is due
    await rig.waiters.until(() => rig.finals.some((e) => e.replyTo === run.id && e.type === 'reply'), 'the resumed run to be answered');
    await rig.cron.idle();
    // The server republished it (resumed) before the services were made; the fake saw the run twice.
    assert.equal(rig.fake.requests.length, 2);
    assert.match(JSON.stringify(rig.fake.requests[1]?.body.messages), /Do it once\./);
    assert.equal(await exists(folder), false);
    assert.equal(rig.server.runtime.snapshot().crons.has('once'), false);
    await rig.minutes(2);
    assert.equal(rig.inbound.filter((m) => !m.resumed).length, 1, 'never run a second time');
  });

  test('a one-off answered just before a crash (folder not yet removed) is removed on start, not run again', async (t) => {
    const record = { cronId: 'once', inboundId: cronRunId('once', new Date('2025-01-06T08:30:00Z')), firedAt: '2025-01-06T08:30:00.010Z' };
    const rig = await setup(t, {
      'crons/once/CRON.md': cronMd({ schedule: '* * * * *', oneOff: true }),
      '.events/cron/once.json': JSON.stringify(record),
    });
    await rig.cron.idle();
    assert.equal(await exists(join(rig.dir, 'crons', 'once')), false);
    assert.equal(await exists(join(rig.dir, '.events', 'cron', 'once.json')), false);
    assert.equal(rig.server.runtime.snapshot().crons.has('once'), false);
    await rig.minutes(2);
    assert.equal(rig.inbound.length, 0);
  });

  test('post_message from a cron session is delivered to default_delivery_source', async (t) => {
    const handler: FakeHandler = (req) =>
      req.toolResults.length > 0 ? { content: 'done' } : { toolCalls: [{ name: 'post_message', arguments: { content: 'hi' } }] };
    const rig = await setup(
      t,
      {
        'config.user.yaml': 'default_delivery_source: "platform-ws:ops"\n',
        'crons/notify/CRON.md': cronMd({ schedule: '* * * * *', oneOff: true }, 'Tell the user hi with post_message.'),
      },
      { handler },
    );
    await rig.minutes(1);
    await allAnswered(rig);
    await rig.waiters.until(() => rig.adapter.sent.some((s) => s.text === 'hi'), 'the posted message to be sent');
    assert.deepEqual(
      rig.adapter.sent.find((s) => s.text === 'hi'),
      { source: 'platform-ws:ops', text: 'hi' },
    );
    const first = rig.fake.requests[0];
    assert.ok(first?.body.tools?.some((tool) => tool.function.name === 'post_message'), 'post_message offered to the cron session');
    const toolMessage = rig.fake.requests[1]?.body.messages.find((m) => m.role === 'tool');
    assert.match(String(toolMessage?.content), /sent to platform-ws:ops/);
  });
});

describe('CronService with a stub host', () => {
  /** A host whose sink records (or refuses) messages; crons come from `crons`. */
  async function stubHost(t: TestContext, crons: Partial<CronDef>[], accept: (m: InboundMessage) => Promise<boolean>) {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const defs = new Map<string, CronDef>();
    for (const c of crons) {
      const id = c.id ?? 'job';
      await mkdir(join(dir, 'crons', id), { recursive: true });
      await writeFile(join(dir, 'crons', id, 'CRON.md'), 'x');
      defs.set(id, { id, name: id, description: '', agent: 'pickle', schedule: '* * * * *', oneOff: false, prompt: 'p', file: `crons/${id}/CRON.md`, ...c });
    }
    const snapshot = { root: dir, crons: defs } as unknown as WorkspaceSnapshot;
    const logger = silentLogger();
    const host: CronHost = {
      runtime: { snapshot: () => snapshot, bus: new EventBus(logger) },
      sink: { accept },
      journal: { pending: async () => [] },
      logger,
      reload: async () => {},
    };
    return host;
  }

  test('errors are logged, not thrown: a refusing sink and a bad schedule do not stop later minutes or other jobs', async (t) => {
    const accepted: string[] = [];
    let refuse = true;
    const host = await stubHost(t, [{ id: 'bad', schedule: 'not a cron' }, { id: 'good' }], async (m) => {
      if (refuse) throw new Error('Brine is shutting down');
      accepted.push(m.id);
      return true;
    });
    const clock = new FakeClock(START);
    const cron = new CronService({ server: host, clock });
    await cron.start();
    clock.advance(MIN);
    await cron.idle();
    refuse = false;
    clock.advance(MIN);
    await cron.idle();
    assert.deepEqual(accepted, minuteIds('good', '09:01'));
    await cron.stop();
    assert.equal(clock.pending, 0, 'stop() cleared the timer');
  });

  test('a very long stall checks at most maxCatchUpMinutes minutes; a clock set back runs no minute twice', async (t) => {
    const accepted: string[] = [];
    const host = await stubHost(t, [{ id: 'job' }], async (m) => (accepted.push(m.id), true));
    const clock = new FakeClock(START);
    const cron = new CronService({ server: host, clock, maxCatchUpMinutes: 3 });
    await cron.start();
    clock.jump(10 * MIN); // 09:09:30
    clock.runDue();
    await cron.idle();
    assert.deepEqual(accepted, minuteIds('job', '09:07', '09:08', '09:09'));
    clock.jump(-5 * MIN); // 09:04:30: the clock was set back
    for (let i = 0; i < 6; i++) {
      clock.advance(MIN);
      await cron.idle();
    }
    // 09:05 .. 09:10:30; only 09:10 is new.
    assert.deepEqual(accepted, minuteIds('job', '09:07', '09:08', '09:09', '09:10'));
    await cron.stop();
  });

  test('a start exactly on a boundary checks that minute; earlier minutes are never replayed', async (t) => {
    const accepted: string[] = [];
    const host = await stubHost(t, [{ id: 'job' }], async (m) => (accepted.push(m.id), true));
    const clock = new FakeClock('2025-01-06T09:00:00.000Z');
    const cron = new CronService({ server: host, clock });
    await cron.start();
    clock.runDue();
    await cron.idle();
    assert.deepEqual(accepted, minuteIds('job', '09:00'));
    await cron.stop();
  });
});
