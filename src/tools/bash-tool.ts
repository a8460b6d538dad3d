import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { ToolError } from '../errors.js';
import type { BrineConfig } from '../config/schema.js';
import type { Tool, ToolContext } from './types.js';
import { fullMatchRegex } from '../util/full-match.js';

/**
 * Environment variables holding Brine's own secrets. They are removed from the
 * shell's environment so a prompt-injected command cannot print the bot's
 * tokens; the rest of the environment (PATH, HOME...) is passed through.
 */
const SECRET_ENV = [
  'OPENAI_API_KEY',
  'DISCORD_BOT_TOKEN',
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'SLACK_APP_TOKEN',
  'BRAVE_API_KEY',
];

/** After bash exits, how long to wait for its pipes to close (a background child may hold them). */
const CLOSE_GRACE_MS = 500;

/**
 * True iff `source` full-matches one of `config.tools.bash.allowed_sources`
 * (see {@link fullMatchRegex}). An invalid pattern matches nothing: we fail
 * closed rather than open (`brine check` reports it).
 */
export function isBashAllowed(config: BrineConfig, source: string): boolean {
  return config.tools.bash.allowed_sources.some((pattern) => {
    try {
      return fullMatchRegex(pattern).test(source);
    } catch {
      return false;
    }
  });
}

/** Combined stdout+stderr, keeping only the last `max` characters. */
class TailBuffer {
  private chunks: string[] = [];
  private length = 0;
  /** Characters dropped from the front so far. */
  dropped = 0;
  constructor(private readonly max: number) {}

  push(s: string): void {
    this.chunks.push(s);
    this.length += s.length;
    // Compact only once we hold twice the cap, so the work stays linear.
    if (this.length > this.max * 2) this.compact();
  }

  private compact(): void {
    const all = this.chunks.join('');
    const keep = all.slice(-this.max);
    this.dropped += all.length - keep.length;
    this.chunks = [keep];
    this.length = keep.length;
  }

  text(): string {
    this.compact();
    return this.chunks.join('');
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    // Negative pid: the whole process group (the child was spawned detached, so it leads its own group).
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: already gone.
  }
}

function formatSeconds(s: number): string {
  return `${Number.isInteger(s) ? s : Number(s.toFixed(3))}s`;
}

/**
 * `bash {command}`: runs `/bin/bash -c command` in the workspace. Only offered
 * to and allowed for sources matching `tools.bash.allowed_sources`. Limits:
 * `tools.bash.timeout_s` (the whole process group is killed) and
 * `tools.bash.max_output_chars` (the tail of the combined output is kept).
 * A non-zero exit is a normal result, reported as `exit code: N`.
 */
export const bashTool: Tool = {
  name: 'bash',
  description:
    'Run a shell command with /bin/bash -c in the workspace directory. Returns combined stdout/stderr and the exit code. Has a timeout and an output cap.',
  parameters: {
    type: 'object',
    properties: {
      command: { type: 'string', description: 'The shell command to run, e.g. `ls -la memories`' },
    },
    required: ['command'],
    additionalProperties: false,
  },
  async run(args: Record<string, unknown>, ctx: ToolContext): Promise<string> {
    const { allowed_sources, timeout_s, max_output_chars } = ctx.config.tools.bash;
    if (!isBashAllowed(ctx.config, ctx.source)) {
      throw new ToolError(
        `bash is not allowed for source ${ctx.source} (tools.bash.allowed_sources: ${JSON.stringify(allowed_sources)})`,
        { code: 'tool_refused', context: { source: ctx.source } },
      );
    }
    const command = args.command;
    if (typeof command !== 'string' || command.trim() === '') {
      throw new ToolError('bash: command must be a non-empty string');
    }
    if (ctx.signal.aborted) throw new ToolError('bash: not run, the turn was cancelled');

    const env = { ...process.env };
    for (const key of SECRET_ENV) delete env[key];

    const out = new TailBuffer(max_output_chars);
    const started = Date.now();

    const result = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; timedOut: boolean; aborted: boolean }>(
      (resolve, reject) => {
        const child = spawn('/bin/bash', ['-c', command], {
          cwd: ctx.workspace,
          env,
          detached: true, // own process group, so a timeout can kill grandchildren too
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let timedOut = false;
        let aborted = false;
        let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
        let graceTimer: NodeJS.Timeout | undefined;
        let settled = false;

        const finish = (): void => {
          if (settled || exit === undefined) return;
          settled = true;
          clearTimeout(timer);
          if (graceTimer) clearTimeout(graceTimer);
          ctx.signal.removeEventListener('abort', onAbort);
          resolve({ ...exit, timedOut, aborted });
        };

        const timer = setTimeout(() => {
          timedOut = true;
          killGroup(child.pid);
        }, timeout_s * 1000);
        const onAbort = (): void => {
          aborted = true;
          killGroup(child.pid);
        };
        ctx.signal.addEventListener('abort', onAbort, { once: true });

        child.stdout.setEncoding('utf8');
        child.stderr.setEncoding('utf8');
        child.stdout.on('data', (s: string) => out.push(s));
        child.stderr.on('data', (s: string) => out.push(s));

        child.on('error', (err) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          ctx.signal.removeEventListener('abort', onAbort);
          killGroup(child.pid);
          reject(new ToolError(`bash: could not start /bin/bash: ${err.message}`, { cause: err }));
        });
        child.on('exit', (code, signal) => {
          exit = { code, signal };
          // The command itself is done: its own exit is what the timeout limits.
          clearTimeout(timer);
          // A backgrounded process may keep the pipes open; don't wait for it forever.
          graceTimer = setTimeout(() => {
            child.stdout.destroy();
            child.stderr.destroy();
            finish();
          }, CLOSE_GRACE_MS);
        });
        child.on('close', (code, signal) => {
          exit ??= { code, signal };
          finish();
        });
      },
    );

    if (result.aborted) throw new ToolError(`bash: command aborted after ${formatSeconds((Date.now() - started) / 1000)} because the turn was cancelled`);

    const parts: string[] = [];
    const text = out.text();
    parts.push(text === '' ? '(no output)' : text.replace(/\n$/, ''));
    if (out.dropped > 0) {
      parts.push(`[output truncated: the first ${out.dropped} characters were dropped; showing the last ${max_output_chars}]`);
    }
    if (result.timedOut) parts.push(`timed out after ${formatSeconds(timeout_s)} (process group killed)`);
    let code = result.code;
    let how = '';
    if (code === null && result.signal !== null) {
      // Shell convention: 128 + signal number.
      code = 128 + (osConstants.signals[result.signal] ?? 0);
      how = ` (killed by ${result.signal})`;
    }
    parts.push(`exit code: ${code ?? 'unknown'}${how}`);
    return parts.join('\n');
  },
};
