import { join } from 'node:path';
import { userInfo } from 'node:os';
import { createInterface } from 'node:readline';
import { ConfigError, formatProblem } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { BrineRuntime } from '../../src/runtime.js';
import { isModelConfigured, NO_MODEL_MESSAGE } from '../../src/llm/settings.js';
import { loadDotenv } from '../../src/config/env.js';
import { TerminalAdapter } from './terminal-adapter.js';

const EXIT_WORDS = new Set(['exit', 'quit', '/exit']);

/** Options of `brine chat`. */
export interface ChatOptions {
  workspace: string;
  agent?: string;
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  errors: NodeJS.WritableStream;
  /** The terminal user name (source `platform-cli:<user>`). */
  user?: string;
}

/**
 * `brine chat`: a terminal conversation through the same bus and worker as the
 * server. Logs go to `<workspace>/.logs/chat.log` so they don't mix with the
 * conversation. Returns the exit code.
 */
export async function chatCommand(options: ChatOptions): Promise<number> {
  const { output, errors } = options;
  loadDotenv(options.workspace);
  let runtime: BrineRuntime;
  try {
    const logger = createLogger({ level: 'info', file: join(options.workspace, '.logs', 'chat.log') });
    runtime = await BrineRuntime.open({ workspace: options.workspace, logger });
  } catch (err) {
    if (err instanceof ConfigError) {
      errors.write(`Cannot start: the workspace has problems (run brine check for the full list):\n${err.problems.map((p) => `  ${formatProblem(p)}`).join('\n')}\n`);
      return 1;
    }
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      errors.write(`${options.workspace} is not a workspace folder; create one with brine init DIR or pass --workspace\n`);
      return 1;
    }
    throw err;
  }
  if (!isModelConfigured(runtime.snapshot().config, runtime.env)) {
    errors.write(`${NO_MODEL_MESSAGE}\n`);
    await runtime.close();
    return 1;
  }

  const source = `platform-cli:${options.user ?? userInfo().username}`;
  const agentName = (id: string | undefined) => (id && runtime.snapshot().agents.get(id)?.name) || id || 'brine';
  let session;
  try {
    session = await runtime.sessionFor(source, options.agent);
  } catch (err) {
    errors.write(`${(err as Error).message}\n`);
    await runtime.close();
    return 1;
  }
  const earlier = (await runtime.sessions.load(session.id)).filter((e) => e.role === 'user').length;
  output.write(
    `Chatting with ${agentName(session.agentId)} (session ${session.id}${earlier ? `, ${earlier} earlier messages` : ', new'}). ` +
      `/help lists commands; exit or Ctrl-D leaves.\n`,
  );

  const terminal = new TerminalAdapter({
    bus: runtime.bus,
    source,
    agentName,
    output: {
      reply: (name, text) => output.write(`${name}: ${text}\n`),
      notice: (text) => output.write(`${text}\n`),
      error: (text) => output.write(`error: ${text}\n`),
    },
  });
  const interactive = Boolean((options.input as NodeJS.ReadStream).isTTY);
  const rl = createInterface({ input: options.input, output: interactive ? output : undefined, terminal: interactive });
  // Ctrl-C leaves like Ctrl-D (readline would otherwise only pause the input).
  rl.on('SIGINT', () => rl.close());
  rl.setPrompt('you> ');
  if (interactive) rl.prompt();
  try {
    for await (const raw of rl) {
      const line = raw.trim();
      if (EXIT_WORDS.has(line.toLowerCase())) break;
      if (line) await terminal.send(line);
      if (interactive) rl.prompt();
    }
  } finally {
    rl.close();
    terminal.close();
    await runtime.close();
  }
  return 0;
}
