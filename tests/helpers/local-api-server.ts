/**
 * A real BrineServer with the local API on a free port, on a temp copy of
 * default_workspace/ and a fake LLM: what the local API tests, the browser
 * test and scripts/screenshot.ts run against.
 */
import { BrineServer } from '../../src/server/brine-server.js';
import { silentLogger } from '../../src/logger.js';
import { createLocalApi, type LocalApi } from '../../adapters/web/local-api.js';
import { startFakeLlm, type FakeHandler, type FakeLlm } from '../fakes/fake-llm.js';
import { agentOf } from './harness.js';
import { makeWorkspace } from './workspace.js';

/** A running server, its local API and the fake LLM behind it. */
export interface LocalApiFixture {
  server: BrineServer;
  api: LocalApi;
  /** In-flight keys are agent ids (from the system prompt). */
  fake: FakeLlm;
  /** Base URL of the local API, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** Releases held requests, stops the server, closes the fake, removes the workspace. */
  stop(): Promise<void>;
}

/** Replies `<agent id> says: <last user message>`. */
export const echoHandler: FakeHandler = (req) => ({ content: `${agentOf(req)} says: ${req.lastUserMessage}` });

/**
 * Starts the fixture. `model: false` starts the server with no model
 * configured (env `{}` and no `llm.base_url`); `hold` parks every LLM request
 * until released.
 */
export async function startLocalApi(options: { model?: boolean; hold?: boolean; handler?: FakeHandler } = {}): Promise<LocalApiFixture> {
  const fake = await startFakeLlm({ classify: agentOf, handler: options.handler ?? echoHandler, holdRequests: options.hold ?? false });
  const workspace = await makeWorkspace();
  let api: LocalApi | undefined;
  let server: BrineServer;
  try {
    server = await BrineServer.start({
      workspace: workspace.dir,
      env: options.model === false ? {} : { OPENAI_BASE_URL: fake.baseURL },
      watch: false,
      logger: silentLogger(),
      drainTimeoutMs: 2000,
      adapters: (s) => [(api = createLocalApi(s, { host: '127.0.0.1', port: 0 }))],
    });
  } catch (err) {
    await fake.close();
    await workspace.cleanup();
    throw err;
  }
  if (!api?.url) {
    await server.stop();
    await fake.close();
    await workspace.cleanup();
    throw new Error('the local API did not start');
  }
  const started = api;
  return {
    server,
    api: started,
    fake,
    url: started.url,
    async stop() {
      fake.holdRequests = false;
      fake.releaseAll();
      await server.stop();
      await fake.close();
      await workspace.cleanup();
    },
  };
}
