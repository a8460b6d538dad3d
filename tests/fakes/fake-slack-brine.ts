/**
 * A real BrineServer running the real Slack channel (Bolt) against the fake
 * Slack and the fake LLM, on a temp copy of default_workspace/: what the
 * Slack end-to-end tests run against. The fakes start first (the channel
 * calls auth.test as it starts); teardown stops the server, then the fakes,
 * then removes the workspace.
 *
 * @module
 */
import type { TestContext } from 'node:test';
import { BrineServer } from '../../src/server/brine-server.js';
import { silentLogger } from '../../src/logger.js';
import { createSlackChannel, type SlackChannel, type SlackInboundOutcome } from '../../adapters/slack/index.js';
import { startFakeLlm, type FakeHandler, type FakeLlm } from './fake-llm.js';
import { startFakeSlack, type FakeSlack } from './fake-slack.js';
import { SlackEventsDriver } from './fake-slack-events.js';
import { agentOf } from '../helpers/harness.js';
import { echoHandler } from '../helpers/local-api-server.js';
import { makeWorkspace } from '../helpers/workspace.js';

export const BOT_TOKEN = 'xoxb-fake-bot-token';
export const APP_TOKEN = 'xapp-fake-app-token';
export const SIGNING_SECRET = 'fake-signing-secret';

/** Options of {@link startSlackBrine}. */
export interface SlackBrineOptions {
  mode?: 'http' | 'socket';
  /** Files written into the workspace first (e.g. `config.user.yaml`). */
  files?: Record<string, string>;
  /** The fake LLM's handler (default: `<agent> says: <message>`). */
  handler?: FakeHandler;
}

/** A running server with the Slack channel, and the fakes around it. */
export interface SlackBrine {
  server: BrineServer;
  slack: SlackChannel;
  fakeSlack: FakeSlack;
  /** In-flight keys are agent ids. */
  llm: FakeLlm;
  /** http mode: signs and POSTs events to the channel's Request URL. */
  events: SlackEventsDriver;
  /** What the channel did with each event, in order. */
  outcomes: SlackInboundOutcome[];
  /** Resolves once `count` outcomes matched `match` (e.g. an ignored event was processed). */
  waitForOutcomes(match: (o: SlackInboundOutcome) => boolean, count: number, description: string): Promise<SlackInboundOutcome[]>;
  workspace: string;
  /** Stops the server (idempotent; teardown calls it too). */
  stop(): Promise<void>;
}

/** Starts the fakes and the server; everything is torn down after the test. */
export async function startSlackBrine(t: TestContext, options: SlackBrineOptions = {}): Promise<SlackBrine> {
  const mode = options.mode ?? 'http';
  const fakeSlack = await startFakeSlack({ botToken: BOT_TOKEN, appToken: APP_TOKEN });
  const llm = await startFakeLlm({ classify: agentOf, handler: options.handler ?? echoHandler });
  const ws = await makeWorkspace(options.files ?? {});
  const outcomes: SlackInboundOutcome[] = [];
  const waiters = new Set<() => void>();
  let server: BrineServer | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    llm.holdRequests = false;
    llm.releaseAll();
    stopping ??= server?.stop() ?? Promise.resolve();
    return stopping;
  };
  t.after(async () => {
    await stop();
    await fakeSlack.close();
    await llm.close();
    await ws.cleanup();
  });

  let slack: SlackChannel | undefined;
  server = await BrineServer.start({
    workspace: ws.dir,
    env: { OPENAI_BASE_URL: llm.baseURL },
    watch: false,
    logger: silentLogger(),
    drainTimeoutMs: 2_000,
    adapters: (s) => [
      (slack = createSlackChannel({
        botToken: BOT_TOKEN,
        mode,
        appToken: APP_TOKEN,
        signingSecret: SIGNING_SECRET,
        port: 0,
        host: '127.0.0.1',
        apiUrl: fakeSlack.apiUrl,
        settings: () => s.runtime.snapshot().config.channels.slack,
        observer: (outcome) => {
          outcomes.push(outcome);
          for (const wake of [...waiters]) wake();
        },
      })),
    ],
  });
  // The server logs a channel that failed to start and runs on; a test must not.
  if (!slack) throw new Error('the Slack channel was not created');
  if (mode === 'http' && !slack.url) throw new Error('the Slack channel did not start (no URL)');
  if (mode === 'socket' && fakeSlack.openSockets === 0) throw new Error('the Slack channel did not connect');

  const waitForOutcomes = (match: (o: SlackInboundOutcome) => boolean, count: number, description: string) =>
    new Promise<SlackInboundOutcome[]>((resolve, reject) => {
      const check = () => {
        const found = outcomes.filter(match);
        if (found.length < count) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(found);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${description}; outcomes: ${JSON.stringify(outcomes)}`));
      }, 5_000);
      waiters.add(check);
      check();
    });

  return { server, slack, fakeSlack, llm, events: new SlackEventsDriver(slack.url ?? '', SIGNING_SECRET), outcomes, waitForOutcomes, workspace: ws.dir, stop };
}
