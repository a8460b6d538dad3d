// Hot reload in the running server: edits to AGENT.md and config.user.yaml
// are picked up by the file watcher without a restart; a raised
// max_concurrency admits a waiting turn at once; an invalid edit is rejected
// with a log line naming the file and field, and the last good config stays.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { BrineServer } from '../src/server/brine-server.js';
import { inboundMessage, type OutboundEvent } from '../src/events.js';
import { startFakeLlm, type FakeLlm } from './fakes/fake-llm.js';
import { agentMd, makeWorkspace } from './helpers/workspace.js';
import { agentOf } from './helpers/harness.js';

const T = { timeout: 20_000 };

/** A logger whose JSON lines are kept for assertions. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

async function start(t: TestContext, files: Record<string, string> = {}): Promise<{ server: BrineServer; fake: FakeLlm; dir: string; lines: Record<string, unknown>[] }> {
  const ws = await makeWorkspace(files);
  const fake = await startFakeLlm({ classify: agentOf, handler: (req) => ({ content: `${agentOf(req)}: ${req.lastUserMessage}` }) });
  const { logger, lines } = capturingLogger();
  const server = await BrineServer.start({ workspace: ws.dir, env: { OPENAI_BASE_URL: fake.baseURL }, logger, drainTimeoutMs: 2_000 });
  t.after(async () => {
    fake.holdRequests = false;
    fake.releaseAll();
    await server.stop();
    await fake.close();
    await ws.cleanup();
  });
  return { server, fake, dir: ws.dir, lines };
}

/** Waits until `predicate` holds (the watcher reacts to the file system, so there is no event to await). */
async function until(predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function replies(server: BrineServer): OutboundEvent[] {
  const seen: OutboundEvent[] = [];
  server.runtime.bus.on('outbound', (e) => {
    if (e.type === 'reply' || e.type === 'error') seen.push(e);
  });
  return seen;
}

test('raising cookie max_concurrency from 1 to 2 while 3 turns wait lets a second one start at once', T, async (t) => {
  const { server, fake, dir } = await start(t);
  const seen = replies(server);
  fake.holdRequests = true;
  for (const user of ['a', 'b', 'c', 'd']) {
    await server.sink.accept(inboundMessage({ source: `test:${user}`, content: `hi from ${user}`, agentId: 'cookie' }));
  }
  await fake.waitForPending(1, 5_000, 'cookie');
  await until(() => server.status().agents.cookie?.queued === 3, 'three queued turns');
  assert.equal(fake.inFlight('cookie'), 1);

  const cookie = agentMd('name: Cookie\ndescription: memory keeper\nmax_concurrency: 2', 'You keep memories.');
  await writeFile(join(dir, 'agents', 'cookie', 'AGENT.md'), cookie);
  await fake.waitForPending(2, 5_000, 'cookie');
  assert.equal(server.status().agents.cookie?.limit, 2);
  assert.equal(server.status().agents.cookie?.queued, 2);
  await fake.settle();
  assert.equal(fake.inFlight('cookie'), 2, 'the new limit admits exactly one more');

  fake.holdRequests = false;
  fake.releaseAll();
  await until(() => seen.length === 4, 'four replies');
  assert.equal(fake.maxInFlight('cookie'), 2);
  assert.deepEqual(seen.map((e) => e.type), ['reply', 'reply', 'reply', 'reply']);
});

test('an invalid edit keeps the last good config and logs the file and field', T, async (t) => {
  const { server, dir, lines } = await start(t);
  await writeFile(join(dir, 'agents', 'cookie', 'AGENT.md'), agentMd('name: Cookie\nmax_concurrency: 0'));
  await until(() => lines.some((l) => l.msg === 'workspace reload rejected; keeping the last good config'), 'the rejection log line');
  const line = lines.find((l) => l.msg === 'workspace reload rejected; keeping the last good config')!;
  assert.deepEqual(line.problems, [{ file: 'agents/cookie/AGENT.md', field: 'max_concurrency', message: 'must be an integer >= 1 (got 0)' }]);
  assert.equal(server.runtime.snapshot().agents.get('cookie')?.maxConcurrency, 1, 'cookie keeps its last good limit');

  await writeFile(join(dir, 'config.user.yaml'), 'llm: [unclosed\n');
  await until(() => lines.filter((l) => l.msg === 'workspace reload rejected; keeping the last good config').length >= 2, 'a second rejection');
  const yaml = lines.filter((l) => l.msg === 'workspace reload rejected; keeping the last good config').at(-1)!;
  const problems = yaml.problems as { file: string; message: string }[];
  assert.ok(problems.some((p) => p.file === 'config.user.yaml' && /not valid YAML \(line \d+\)/.test(p.message)), JSON.stringify(problems));

  // A good edit after bad ones applies.
  await writeFile(join(dir, 'config.user.yaml'), 'default_agent: cookie\n');
  await writeFile(join(dir, 'agents', 'cookie', 'AGENT.md'), agentMd('name: Cookie\nmax_concurrency: 1'));
  await until(() => server.runtime.snapshot().config.default_agent === 'cookie', 'the good edit');
});
