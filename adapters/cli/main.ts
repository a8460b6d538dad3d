#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { resolveWorkspaceDir } from './paths.js';
import { chatCommand } from './chat.js';
import { serveCommand } from './serve.js';
import { checkCommand } from './check.js';
import { initCommand } from './init.js';

/**
 * The `brine` command line (DESIGN.md section 1). Exit codes: 0 ok, 1 invalid
 * input or config, 2 usage (unknown command or option).
 */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command()
    .name('brine')
    .description('Self-hosted multi-agent chat bot for Discord, Slack and the terminal')
    .exitOverride()
    .showHelpAfterError('(brine --help lists the commands)');

  program
    .command('serve')
    .description('run the bot: channels, workers, cron and the local API with web chat')
    .option('-w, --workspace <dir>', 'workspace folder (default: $BRINE_WORKSPACE or ./default_workspace)')
    .action(async (opts: { workspace?: string }) => {
      code = await serveCommand({ workspace: resolveWorkspaceDir(opts.workspace), output: process.stdout, errors: process.stderr });
    });

  program
    .command('chat')
    .description('chat with an agent in the terminal')
    .option('-w, --workspace <dir>', 'workspace folder (default: $BRINE_WORKSPACE or ./default_workspace)')
    .option('-a, --agent <id>', 'agent to talk to (default: routing, then default_agent)')
    .action(async (opts: { workspace?: string; agent?: string }) => {
      code = await chatCommand({
        workspace: resolveWorkspaceDir(opts.workspace),
        ...(opts.agent !== undefined && { agent: opts.agent }),
        input: process.stdin,
        output: process.stdout,
        errors: process.stderr,
      });
    });

  program
    .command('check')
    .description('validate the config and every AGENT.md, SKILL.md and CRON.md')
    .option('-w, --workspace <dir>', 'workspace folder')
    .action(async (opts: { workspace?: string }) => {
      code = await checkCommand(resolveWorkspaceDir(opts.workspace), process.stdout, process.stderr);
    });

  program
    .command('init')
    .description('copy default_workspace/ to DIR, for a workspace of your own')
    .argument('<dir>', 'new workspace folder')
    .action(async (dir: string) => {
      code = await initCommand(dir, process.stdout, process.stderr);
    });

  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    throw err;
  }
  return code;
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`brine: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
