// Durability of `brine serve` across a hard crash (DESIGN.md section 6): the
// real CLI runs as a child process and is killed with SIGKILL, then started
// again on the same workspace. A reply the LLM produced before the kill is
// delivered exactly once after the restart; messages queued behind cookie's
// semaphore at the moment of the kill are answered once each, in order.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startFakeLlm, type FakeLlm } from './fakes/fake-llm.js';
import { makeWorkspace } from './helpers/workspace.js';
import { agentOf } from './helpers/harness.js';
import { WsTestClient, until } from './helpers/local-api-client.js';

const T = { timeout: 60_000 };
const ROOT = join(import.meta.dirname, '..');

interface Serve {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
}

/** Starts `brine serve` on `dir` and resolves with its web chat URL. */
async function serve(dir: string, fake: FakeLlm): Promise<Serve> {
  const env: NodeJS.ProcessEnv = { ...process.env, OPENAI_BASE_URL: fake.baseURL, BRINE_LOG_LEVEL: 'warn' };
  delete env.OPENAI_API_KEY;
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, ['--import', 'tsx', 'adapters/cli/main.ts', 'serve', '--workspace', dir], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start; stdout: ${out}`)), 20_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /web chat and API: (http:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}; stdout: ${out}`)));
  });
  return { child, url, exited };
}

async function kill(server: Serve): Promise<void> {
  server.child.kill('SIGKILL');
  await server.exited;
}

async function setup(t: TestContext) {
  const ws = await makeWorkspace({ 'config.user.yaml': 'api: { port: 0 }\n' });
  const fake = await startFakeLlm({ classify: agentOf, handler: (req) => ({ content: `${agentOf(req)} answers: ${req.lastUserMessage}` }) });
  const servers: Serve[] = [];
  const clients: WsTestClient[] = [];
  t.after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    for (const s of servers) if (s.child.exitCode === null && s.child.signalCode === null) await kill(s);
    fake.holdRequests = false;
    fake.releaseAll();
    await fake.close();
    await ws.cleanup();
  });
  return {
    dir: ws.dir,
    fake,
    start: async () => {
      const s = await serve(ws.dir, fake);
      servers.push(s);
      return s;
    },
    connect: async (url: string) => {
      const c = await WsTestClient.connect(url);
      clients.push(c);
      return c;
    },
  };
}

const replies = (client: WsTestClient) => client.conversation.filter((f) => f.type === 'reply');
/** The records in a journal/outbox folder (temp files of an interrupted write do not count). */
const files = async (dir: string) => (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json') && !f.startsWith('.'));

test('a reply produced before a SIGKILL is delivered exactly once after the restart', T, async (t) => {
  const { dir, fake, start, connect } = await setup(t);
  const first = await start();
  const alice = await connect(first.url);
  alice.send({ source: 'alice', content: 'remember this' });
  await fake.waitForRequests(1, 10_000, 'pickle');
  await alice.close(); // nobody is listening when the answer comes
  await until(async () => (await files(join(dir, '.events', 'outbox'))).length === 1, 'the reply persisted in the outbox', 10_000);
  // Answered for good once its reply is persisted: it leaves the inbound journal.
  await until(async () => (await files(join(dir, '.events', 'inbound'))).length === 0, 'the message left the inbound journal', 10_000);
  await kill(first);

  const second = await start();
  const back = await connect(second.url);
  back.send({ type: 'hello', source: 'alice' });
  await back.waitFor((f) => f.type === 'reply', 'the reply after the restart', 10_000);
  await until(async () => (await files(join(dir, '.events', 'outbox'))).length === 0, 'the outbox emptied', 10_000);
  await fake.settle(100);
  assert.deepEqual(replies(back).map((f) => f.content), ['pickle answers: remember this']);
  assert.equal(fake.totalRequests('pickle'), 1, 'the turn was not run again');
});

test('messages queued behind cookie at a SIGKILL are answered once each, in order, after the restart', T, async (t) => {
  const { dir, fake, start, connect } = await setup(t);
  const first = await start();
  const bob = await connect(first.url);
  const carol = await connect(first.url);
  fake.holdRequests = true;
  bob.send({ source: 'bob', content: 'first for cookie', agent: 'cookie' });
  await fake.waitForPending(1, 10_000, 'cookie');
  carol.send({ source: 'carol', content: 'second for cookie', agent: 'cookie' });
  await carol.waitFor((f) => f.type === 'queued', 'carol queued behind bob', 10_000);
  assert.equal((await files(join(dir, '.events', 'inbound'))).length, 2, 'both accepted messages are journaled');
  await kill(first);
  fake.releaseAll(); // the killed server's request is gone; nothing to answer it

  const before = fake.totalRequests('cookie');
  const second = await start();
  const bob2 = await connect(second.url);
  const carol2 = await connect(second.url);
  bob2.send({ type: 'hello', source: 'bob' });
  carol2.send({ type: 'hello', source: 'carol' });
  await fake.waitForPending(1, 10_000, 'cookie');
  await fake.settle();
  assert.equal(fake.inFlight('cookie'), 1, 'cookie still runs one at a time after the restart');
  fake.holdRequests = false;
  fake.releaseAll();
  await bob2.waitFor((f) => f.type === 'reply', "bob's reply", 10_000);
  await carol2.waitFor((f) => f.type === 'reply', "carol's reply", 10_000);
  await until(async () => (await files(join(dir, '.events', 'inbound'))).length === 0, 'the journal emptied', 10_000);
  await fake.settle(100);
  assert.deepEqual(replies(bob2).map((f) => f.content), ['cookie answers: first for cookie']);
  assert.deepEqual(replies(carol2).map((f) => f.content), ['cookie answers: second for cookie']);
  const rerun = fake.requestsFor('cookie').slice(before).map((r) => r.body.messages.at(-1)?.content);
  assert.deepEqual(rerun, ['first for cookie', 'second for cookie'], 'resumed in their original order, each once');
});

test('SIGTERM drains: exit code 0, and a message still queued is resumed on the next start', T, async (t) => {
  const { dir, fake, start, connect } = await setup(t);
  const first = await start();
  const dave = await connect(first.url);
  const erin = await connect(first.url);
  fake.holdRequests = true;
  dave.send({ source: 'dave', content: 'running one', agent: 'cookie' });
  await fake.waitForPending(1, 10_000, 'cookie');
  erin.send({ source: 'erin', content: 'queued one', agent: 'cookie' });
  await erin.waitFor((f) => f.type === 'queued', 'erin queued', 10_000);
  first.child.kill('SIGTERM');
  await fake.settle(200);
  fake.releaseNext('cookie'); // the running turn finishes during the drain
  assert.equal(await first.exited, 0);
  const journaled = await files(join(dir, '.events', 'inbound'));
  assert.equal(journaled.length, 1, 'only the queued message is left for the next start');

  fake.holdRequests = false;
  const second = await start();
  const erin2 = await connect(second.url);
  erin2.send({ type: 'hello', source: 'erin' });
  const reply = await erin2.waitFor((f) => f.type === 'reply', "erin's reply after the restart", 10_000);
  assert.equal(reply.content, 'cookie answers: queued one');
});
