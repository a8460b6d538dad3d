// `brine chat` as a user runs it: a child process fed through stdin, read
// through stdout/stderr, talking (via the real openai SDK) to the fake LLM.
// Every step waits for the output it expects before sending the next line.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { userInfo } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startFakeLlm, messageText } from './fakes/fake-llm.js';
import { agentMd, makeWorkspace } from './helpers/workspace.js';
import { agentOf } from './helpers/harness.js';

/** No test may hang: a broken admission path fails by timeout instead. */
const T = { timeout: 20_000 };

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const USER = userInfo().username;
const SOURCE = `platform-cli:${USER}`;
const WAIT_MS = 15_000;

/**
 * The child's environment: ours without any OPENAI_* / BRINE_* variable (a
 * developer's real key or endpoint must never leak into a test) and without
 * the test runner's own markers, plus `extra`.
 */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(OPENAI_|BRINE_|NODE_TEST_)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One `brine chat` child process. */
class ChatProcess {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  #exit: Exit | null = null;
  readonly #listeners = new Set<() => void>();

  constructor(args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, ['--import', 'tsx', 'adapters/cli/main.ts', 'chat', ...args], { cwd: ROOT, env, stdio: 'pipe' });
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (d: string) => {
      this.stdout += d;
      this.#notify();
    });
    this.child.stderr.on('data', (d: string) => {
      this.stderr += d;
      this.#notify();
    });
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.#exit = { code, signal };
        this.#notify();
        resolve({ code, signal });
      });
    });
  }

  /** Writes one line; returns the stdout offset before it, for {@link waitFor}. */
  send(line: string): number {
    const mark = this.stdout.length;
    this.child.stdin.write(`${line}\n`);
    return mark;
  }

  /** Resolves with the first match of `re` in stdout after `from`; rejects (with all output) on exit or timeout. */
  waitFor(re: RegExp, from = 0, timeoutMs = WAIT_MS): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = re.exec(this.stdout.slice(from));
        if (m) {
          done();
          resolve(m);
          return true;
        }
        if (this.#exit) {
          done();
          reject(new Error(`brine chat exited (${JSON.stringify(this.#exit)}) before printing ${re}\n${this.describe()}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re}\n${this.describe()}`));
      }, timeoutMs);
      const listener = () => void check();
      const done = () => {
        clearTimeout(timer);
        this.#listeners.delete(listener);
      };
      this.#listeners.add(listener);
      check();
    });
  }

  /** Waits for the exit, with a timeout that kills the child. */
  async exit(timeoutMs = WAIT_MS): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`brine chat did not exit within ${timeoutMs} ms\n${this.describe()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    if (!this.#exit) this.child.kill('SIGKILL');
  }

  describe(): string {
    return `--- stdout ---\n${this.stdout}\n--- stderr ---\n${this.stderr}`;
  }

  #notify(): void {
    for (const l of [...this.#listeners]) l();
  }
}

async function setup(t: TestContext, files: Record<string, string> = {}) {
  const ws = await makeWorkspace(files);
  // The test relies on no .env being found (workspace or project folder) that could set OPENAI_*.
  await assert.rejects(access(join(ws.dir, '.env')), { code: 'ENOENT' });
  const fake = await startFakeLlm({ classify: agentOf, handler: (req) => ({ content: `reply to: ${req.lastUserMessage}` }) });
  const children: ChatProcess[] = [];
  t.after(async () => {
    for (const c of children) {
      c.kill();
      await c.exited;
    }
    await fake.close();
    await ws.cleanup();
  });
  const start = (args: string[] = [], env: NodeJS.ProcessEnv = childEnv({ OPENAI_BASE_URL: fake.baseURL })) => {
    const c = new ChatProcess(['--workspace', ws.dir, ...args], env);
    children.push(c);
    return c;
  };
  return { dir: ws.dir, fake, start };
}

const BANNER = /Chatting with (\w+) \(session (\S+?)(?:, (\d+) earlier messages|, new)\)\./;

test('brine chat: a question, /help, /session, then exit', T, async (t) => {
  const { fake, start } = await setup(t);
  const chat = start();
  const banner = await chat.waitFor(BANNER);
  assert.equal(banner[1], 'Pickle');
  const sessionId = banner[2]!;
  assert.match(banner[0], /, new\)/);

  let mark = chat.send('What is the capital of France?');
  await chat.waitFor(/^Pickle: reply to: What is the capital of France\?$/m, mark);
  assert.equal(fake.totalRequests(), 1);
  assert.equal(fake.requests[0]!.key, 'pickle');

  mark = chat.send('/help');
  const help = await chat.waitFor(/Commands \(answered at once[\s\S]*?Anything else[^\n]*\n/, mark);
  for (const name of ['help', 'agent', 'skills', 'crons', 'session', 'context', 'compact', 'clear', 'route', 'bindings', 'status']) {
    assert.match(help[0], new RegExp(`^\\s+/${name}\\b`, 'm'));
  }

  mark = chat.send('/session');
  const session = await chat.waitFor(/^Session (\S+)\n[\s\S]*?history:[^\n]*\n/m, mark);
  assert.equal(session[1], sessionId);
  assert.match(session[0], new RegExp(`^\\s+source:\\s+${SOURCE.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  assert.match(session[0], /^\s+agent:\s+pickle$/m);
  assert.match(session[0], /^\s+messages:\s+2$/m);
  assert.equal(fake.totalRequests(), 1, '/help and /session do not call the LLM');

  chat.send('exit');
  const exit = await chat.exit();
  assert.deepEqual(exit, { code: 0, signal: null }, chat.describe());
  assert.equal(fake.totalRequests(), 1);
});

test('brine chat: end of input exits 0', T, async (t) => {
  const { fake, start } = await setup(t);
  const chat = start();
  await chat.waitFor(BANNER);
  chat.child.stdin.end();
  assert.deepEqual(await chat.exit(), { code: 0, signal: null }, chat.describe());
  assert.equal(fake.totalRequests(), 0);
});

test('brine chat --agent cookie talks to cookie', T, async (t) => {
  const { fake, start } = await setup(t);
  const chat = start(['--agent', 'cookie']);
  const banner = await chat.waitFor(BANNER);
  assert.equal(banner[1], 'Cookie');
  const mark = chat.send('hello cookie');
  await chat.waitFor(/^Cookie: reply to: hello cookie$/m, mark);
  assert.equal(fake.totalRequests(), 1);
  assert.equal(fake.requests[0]!.key, 'cookie');
  chat.send('quit');
  assert.deepEqual(await chat.exit(), { code: 0, signal: null }, chat.describe());
});

test('brine chat --agent nobody exits 1 naming the agents', T, async (t) => {
  const { fake, start } = await setup(t);
  const chat = start(['--agent', 'nobody']);
  const exit = await chat.exit();
  assert.equal(exit.code, 1, chat.describe());
  assert.match(chat.stderr, /"nobody"/);
  assert.match(chat.stderr, /pickle/);
  assert.match(chat.stderr, /cookie/);
  assert.equal(fake.totalRequests(), 0);
});

test('brine chat with no model configured exits 1 naming OPENAI_API_KEY and OPENAI_BASE_URL / llm.base_url', T, async (t) => {
  const { fake, start } = await setup(t);
  // Blank (not just unset) if the project folder has a .env, which chat would otherwise load.
  const blank: Record<string, string> = existsSync(join(ROOT, '.env')) ? { OPENAI_API_KEY: '', OPENAI_BASE_URL: '' } : {};
  const chat = start([], childEnv(blank));
  const exit = await chat.exit();
  assert.equal(exit.code, 1, chat.describe());
  assert.match(chat.stderr, /OPENAI_API_KEY/);
  assert.match(chat.stderr, /OPENAI_BASE_URL/);
  assert.match(chat.stderr, /llm\.base_url/);
  assert.doesNotMatch(chat.stdout, /Chatting with/);
  assert.equal(fake.totalRequests(), 0);
});

test('brine chat with a broken AGENT.md exits 1 naming the file and the field', T, async (t) => {
  const { fake, start } = await setup(t, { 'agents/cookie/AGENT.md': agentMd('name: Cookie\nmax_concurrency: 0') });
  const chat = start();
  const exit = await chat.exit();
  assert.equal(exit.code, 1, chat.describe());
  assert.match(chat.stderr, /agents\/cookie\/AGENT\.md: max_concurrency/);
  assert.match(chat.stderr, /integer >= 1/);
  assert.equal(fake.totalRequests(), 0);
});

test('brine chat resumes the same session after a restart, with its history', T, async (t) => {
  const { fake, start } = await setup(t);
  const first = start();
  const banner1 = await first.waitFor(BANNER);
  let mark = first.send('My cat is called Miso.');
  await first.waitFor(/^Pickle: reply to: My cat is called Miso\.$/m, mark);
  first.send('exit');
  assert.equal((await first.exit()).code, 0, first.describe());

  const second = start();
  const banner2 = await second.waitFor(BANNER);
  assert.equal(banner2[2], banner1[2], 'same session id');
  assert.equal(banner2[3], '1', `the banner mentions the earlier message: ${banner2[0]}`);
  mark = second.send('What is my cat called?');
  await second.waitFor(/^Pickle: reply to: What is my cat called\?$/m, mark);
  const req = fake.requests[1]!;
  const history = req.body.messages.map((m) => `${m.role}: ${messageText(m.content)}`);
  assert.deepEqual(history.slice(1), [
    'user: My cat is called Miso.',
    'assistant: reply to: My cat is called Miso.',
    'user: What is my cat called?',
  ]);
  second.child.stdin.end();
  assert.equal((await second.exit()).code, 0, second.describe());
});
