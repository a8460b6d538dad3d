import { cp, mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BrineRuntime, type RuntimeOptions } from '../../src/runtime.js';
import { silentLogger } from '../../src/logger.js';
import { inboundMessage, type OutboundEvent } from '../../src/events.js';

/** The repository's default_workspace/. */
export const DEFAULT_WORKSPACE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'default_workspace');

/**
 * Creates a temp workspace: a copy of default_workspace/ (unless `empty`),
 * then `files` written on top (path relative to the workspace -> content).
 * Returns its real path and a cleanup function.
 */
export async function makeWorkspace(files: Record<string, string> = {}, options: { empty?: boolean } = {}): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'brine-test-')));
  if (!options.empty) {
    await cp(DEFAULT_WORKSPACE, dir, { recursive: true, filter: (p) => !/\.(history|events|logs)$|config\.(user|runtime)\.yaml$/.test(p) });
  }
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** An AGENT.md text from frontmatter lines and a body. */
export function agentMd(frontmatter: string, body = 'You are a test agent.'): string {
  return `---\n${frontmatter.trim()}\n---\n${body}\n`;
}

/**
 * Opens a runtime on `workspace` talking to `baseURL` (a fake LLM), with a
 * silent logger and no retries. Extra options override.
 */
export function openRuntime(workspace: string, baseURL: string, extra: Partial<RuntimeOptions> = {}): Promise<BrineRuntime> {
  return BrineRuntime.open({ workspace, env: { OPENAI_BASE_URL: baseURL }, logger: silentLogger(), ...extra });
}

/**
 * Sends one message on the runtime's bus as `source` and resolves with the
 * final event for it (`reply` or `error`), plus every event seen for it.
 */
export function ask(runtime: BrineRuntime, source: string, content: string, extra: { agentId?: string } = {}): Promise<{ final: OutboundEvent; events: OutboundEvent[] }> {
  const event = inboundMessage({ source, content, ...extra });
  const events: OutboundEvent[] = [];
  return new Promise((resolve) => {
    const off = runtime.bus.on('outbound', (out) => {
      if (out.replyTo !== event.id) return;
      events.push(out);
      if (out.type === 'reply' || out.type === 'error') {
        off();
        resolve({ final: out, events });
      }
    });
    runtime.bus.publish('inbound', event);
  });
}
