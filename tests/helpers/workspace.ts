import { cp, mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
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
  const { dir, cleanup } = await tempDir();
  if (!options.empty) {
    await cp(DEFAULT_WORKSPACE, dir, { recursive: true, filter: (p) => !/\.(history|events|logs)$|config\.(user|runtime)\.yaml$/.test(p) });
  }
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return { dir, cleanup };
}

/** Creates an empty temp directory (real path, symlinks resolved) named `<prefix>XXXXXX`, and a function removing it. */
export async function tempDir(prefix = 'brine-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), prefix)));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Every file under `dir` (relative path -> content), for before/after comparisons. */
export async function tree(dir: string, prefix = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) Object.assign(out, await tree(dir, rel));
    else out[rel] = await readFile(join(dir, rel), 'utf8');
  }
  return out;
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
