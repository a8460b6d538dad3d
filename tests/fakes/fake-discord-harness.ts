/**
 * A real BrineServer in-process with the Discord channel (the real
 * discord.js client) logged in to the fake Discord, on a temp copy of
 * default_workspace/ and the fake LLM; plus a logger that records every line,
 * so tests can count error lines. Torn down after the test.
 */
import { Writable } from 'node:stream';
import type { TestContext } from 'node:test';
import { pino } from 'pino';
import { BrineServer } from '../../src/server/brine-server.js';
import { createDiscordChannel, type TypingTiming } from '../../adapters/discord/index.js';
import { startFakeLlm, type FakeHandler, type FakeLlm } from './fake-llm.js';
import { startFakeDiscord, type FakeDiscord, type FakeDiscordOptions } from './fake-discord.js';
import { agentOf } from '../helpers/harness.js';
import { makeWorkspace } from '../helpers/workspace.js';

/** One recorded log line (pino JSON). */
export interface LogLine {
  level: number;
  msg?: string;
  err?: unknown;
  [key: string]: unknown;
}

/** pino levels. */
export const LEVEL = { debug: 20, info: 30, warn: 40, error: 50 } as const;

/** What {@link startDiscordServer} returns. */
export interface DiscordServerFixture {
  server: BrineServer;
  discord: FakeDiscord;
  llm: FakeLlm;
  /** Every log line so far, in order (level debug and up). */
  logs: LogLine[];
  /** Log lines at `level` or above. */
  logsAtLeast(level: number): LogLine[];
  workspace: string;
}

/** Options of {@link startDiscordServer}. */
export interface DiscordServerOptions {
  /** config.user.yaml, made once the fake Discord is up (so it can name its user and channel ids). */
  config?: (discord: FakeDiscord) => string;
  /** The fake LLM's handler (default: `<agent> says: <last user message>`). */
  handler?: FakeHandler;
  /** Park every LLM request until released. */
  hold?: boolean;
  discord?: FakeDiscordOptions;
  /** The token the adapter logs in with (default the fake's `test-token`). */
  token?: string;
  typing?: Partial<TypingTiming>;
  /** Runs on the workspace before the server starts (e.g. to leave work from a "previous run"). */
  beforeStart?: (workspace: string, discord: FakeDiscord) => Promise<void>;
}

/** Replies `<agent id> says: <last user message>`. */
export const echo: FakeHandler = (req) => ({ content: `${agentOf(req)} says: ${req.lastUserMessage}` });

/**
 * Starts the fake LLM, the fake Discord and the server with the Discord
 * channel; all stopped after the test (LLM released first, so no drain waits).
 */
export async function startDiscordServer(t: TestContext, options: DiscordServerOptions = {}): Promise<DiscordServerFixture> {
  const llm = await startFakeLlm({ classify: agentOf, handler: options.handler ?? echo, holdRequests: options.hold ?? false });
  const discord = await startFakeDiscord(options.discord);
  const workspace = await makeWorkspace(options.config ? { 'config.user.yaml': options.config(discord) } : {});
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logs.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  let server: BrineServer | undefined;
  t.after(async () => {
    llm.holdRequests = false;
    llm.releaseAll();
    await server?.stop();
    await discord.close();
    await llm.close();
    await workspace.cleanup();
  });
  await options.beforeStart?.(workspace.dir, discord);
  server = await BrineServer.start({
    workspace: workspace.dir,
    env: { OPENAI_BASE_URL: llm.baseURL },
    watch: false,
    logger: pino({ level: 'debug', base: undefined }, sink),
    drainTimeoutMs: 2000,
    adapters: (s) => [
      createDiscordChannel({
        token: options.token ?? 'test-token',
        apiUrl: discord.apiUrl,
        settings: () => s.runtime.snapshot().config.channels.discord,
        ...(options.typing && { typing: options.typing }),
      }),
    ],
  });
  return { server, discord, llm, logs, logsAtLeast: (level) => logs.filter((l) => l.level >= level), workspace: workspace.dir };
}
