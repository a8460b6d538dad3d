import { ConfigError, formatProblem } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { loadDotenv } from '../../src/config/env.js';
import { BrineServer } from '../../src/server/brine-server.js';
import { CronService } from '../../src/cron/cron-service.js';
import { isModelConfigured, NO_MODEL_MESSAGE } from '../../src/llm/settings.js';
import { createLocalApi, type LocalApi } from '../web/local-api.js';
import { platformChannels } from '../platforms.js';

/** Options of `brine serve`. */
export interface ServeOptions {
  workspace: string;
  output: NodeJS.WritableStream;
  errors: NodeJS.WritableStream;
  /** Resolves when the server should drain and stop (default: SIGINT or SIGTERM). */
  until?: Promise<void>;
}

/** Resolves on the first SIGINT or SIGTERM. */
function shutdownSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

/**
 * `brine serve`: runs the bot until SIGINT/SIGTERM, then drains (DESIGN.md
 * section 1). Logs are JSON lines on stderr; stdout gets a short human
 * summary, including the web chat URL. Returns the exit code.
 */
export async function serveCommand(options: ServeOptions): Promise<number> {
  loadDotenv(options.workspace);
  const logger = createLogger();
  let server: BrineServer;
  let api: LocalApi | undefined;
  try {
    server = await BrineServer.start({
      workspace: options.workspace,
      logger,
      adapters: async (s) => {
        api = createLocalApi(s, s.runtime.snapshot().config.api);
        return [api, ...(await platformChannels(s, process.env, logger))];
      },
      services: (s) => [new CronService({ server: s })],
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      options.errors.write(`Cannot start: the workspace has problems (brine check lists them):\n${err.problems.map((p) => `  ${formatProblem(p)}`).join('\n')}\n`);
      return 1;
    }
    throw err;
  }
  const snapshot = server.runtime.snapshot();
  const platforms = server.adapters.filter((a) => a.name !== 'web').map((a) => a.name);
  options.output.write(
    [
      `Brine is running (workspace ${snapshot.root}).`,
      `  web chat and API: ${api?.url || 'not started (see the log above)'}`,
      `  channels: ${platforms.length > 0 ? platforms.join(', ') : 'none configured (local API and web chat only)'}`,
      ...(isModelConfigured(snapshot.config, server.runtime.env) ? [] : [`  ${NO_MODEL_MESSAGE}`]),
      '  Ctrl-C stops (running turns finish first).',
      '',
    ].join('\n'),
  );
  await (options.until ?? shutdownSignal());
  options.output.write('Stopping: finishing running turns...\n');
  await server.stop();
  options.output.write('Stopped.\n');
  return 0;
}
