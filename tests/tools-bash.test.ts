import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { configSchema } from '../src/config/schema.js';
import { ToolError } from '../src/errors.js';
import type { ToolContext } from '../src/tools/types.js';
import { bashTool, isBashAllowed } from '../src/tools/bash-tool.js';
import { tempDir } from './helpers/workspace.js';
import { toolContext } from './helpers/harness.js';

/** A ToolContext on a fresh empty workspace (real path), removed after the test. */
async function setup(
  t: { after: (fn: () => Promise<void>) => void },
  opts: { source?: string; config?: unknown; signal?: AbortSignal } = {},
): Promise<ToolContext> {
  const { dir: workspace, cleanup } = await tempDir('brine-bash-');
  t.after(cleanup);
  return toolContext(workspace, opts.config ?? {}, { source: opts.source, signal: opts.signal });
}

/** True once `pid` no longer runs (absent, or a zombie awaiting reaping); polls for up to 1 s. */
async function processGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 20; i++) {
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      // Field 3, after the parenthesised command name, is the state.
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return true;
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

test('runs in the workspace directory and reports the exit code', async (t) => {
  const ctx = await setup(t);
  const out = await bashTool.run({ command: 'pwd' }, ctx);
  assert.equal(out, `${ctx.workspace}\nexit code: 0`);
});

test('a non-zero exit is a result, not a throw, and stderr is included', async (t) => {
  const ctx = await setup(t);
  const out = await bashTool.run({ command: 'echo oops >&2; exit 3' }, ctx);
  assert.match(out, /oops/);
  assert.match(out, /exit code: 3$/);
});

test('refused for a Discord source, naming the source and the config key', async (t) => {
  const ctx = await setup(t, { source: 'platform-discord:1:2' });
  await assert.rejects(bashTool.run({ command: 'touch should-not-exist' }, ctx), (err: unknown) => {
    assert.ok(err instanceof ToolError);
    assert.equal(err.message, 'bash is not allowed for source platform-discord:1:2 (tools.bash.allowed_sources: ["platform-cli:.*"])');
    return true;
  });
});

test('isBashAllowed full-matches the configured patterns', () => {
  const def = configSchema.parse({});
  assert.equal(isBashAllowed(def, 'platform-cli:alice'), true);
  assert.equal(isBashAllowed(def, 'platform-discord:1:2'), false);
  // Anchored: a pattern matching only part of the source does not count.
  assert.equal(isBashAllowed(def, 'x-platform-cli:alice'), false);
  const custom = configSchema.parse({ tools: { bash: { allowed_sources: ['platform-slack:T1:U1', '(unclosed'] } } });
  assert.equal(isBashAllowed(custom, 'platform-slack:T1:U1'), true);
  assert.equal(isBashAllowed(custom, 'platform-slack:T1:U1x'), false);
  assert.equal(isBashAllowed(custom, '(unclosed'), false); // invalid regex fails closed
  assert.equal(isBashAllowed(configSchema.parse({ tools: { bash: { allowed_sources: [] } } }), 'platform-cli:alice'), false);
});

test('allowed for platform-cli:alice', async (t) => {
  const ctx = await setup(t, { source: 'platform-cli:alice' });
  assert.equal(await bashTool.run({ command: 'echo hi' }, ctx), 'hi\nexit code: 0');
});

test('timeout kills the whole process group', async (t) => {
  const ctx = await setup(t, { config: { tools: { bash: { timeout_s: 0.5 } } } });
  const started = Date.now();
  // The backgrounded sleep is a grandchild: killing the group must take it down too.
  const out = await bashTool.run({ command: 'sleep 5 & echo $! > bg.pid; sleep 5' }, ctx);
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 3000, `took ${elapsed} ms`);
  assert.match(out, /timed out after 0\.5s/);
  assert.match(out, /exit code: 137/);
  const bgPid = Number((await readFile(path.join(ctx.workspace, 'bg.pid'), 'utf8')).trim());
  assert.ok(bgPid > 0);
  assert.equal(await processGone(bgPid), true, `background sleep ${bgPid} survived the timeout`);
});

test('output is capped, keeping the tail, with a note', async (t) => {
  const ctx = await setup(t, { config: { tools: { bash: { max_output_chars: 100 } } } });
  const out = await bashTool.run({ command: 'for i in $(seq 1 2000); do echo "line $i"; done' }, ctx);
  assert.match(out, /line 2000\n/);
  assert.doesNotMatch(out, /line 1\n/);
  assert.match(out, /\[output truncated: the first \d+ characters were dropped; showing the last 100\]/);
  assert.match(out, /exit code: 0$/);
  const body = out.slice(0, out.indexOf('\n[output truncated'));
  assert.ok(body.length <= 100, `kept ${body.length} chars`);
});

test('honours the abort signal', async (t) => {
  const ac = new AbortController();
  const ctx = await setup(t, { signal: ac.signal });
  const started = Date.now();
  setTimeout(() => ac.abort(), 200);
  await assert.rejects(bashTool.run({ command: 'sleep 5' }, ctx), /aborted/);
  assert.ok(Date.now() - started < 3000);
});

test('Brine secrets are not passed to the shell', async (t) => {
  const ctx = await setup(t);
  const prev = process.env.OPENAI_API_KEY;
  process.env.OPENAI_API_KEY = 'sk-test-secret';
  t.after(() => {
    if (prev === undefined) delete process.env.OPENAI_API_KEY;
    else process.env.OPENAI_API_KEY = prev;
  });
  const out = await bashTool.run({ command: 'echo "key=[${OPENAI_API_KEY:-}]"' }, ctx);
  assert.match(out, /^key=\[\]/);
});
