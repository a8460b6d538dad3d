// The real `brine` CLI as a child process (node --import tsx adapters/cli/main.ts):
// `check` on valid, broken and missing workspaces (exit 0/1, problems with file
// and field on stderr), usage errors (exit 2), `--help` (exit 0), `init DIR`
// (a clean copy of default_workspace that passes `check`; a non-empty DIR is
// refused and left untouched), and $BRINE_WORKSPACE when --workspace is absent.
// The spawns run concurrently to keep the file fast.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentMd, makeWorkspace, tempDir, tree } from './helpers/workspace.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = join(ROOT, 'adapters', 'cli', 'main.ts');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `brine <args>` from the project folder, with no model and no BRINE_WORKSPACE unless given. */
function brine(args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'BRINE_WORKSPACE', 'NODE_TEST_CONTEXT']) delete env[key];
  Object.assign(env, extraEnv);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`brine ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, 15_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function show(r: CliResult): string {
  return `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

describe('brine CLI', { concurrency: true }, () => {
  test('check on a valid workspace exits 0 and prints ok', async () => {
    const ws = await makeWorkspace();
    try {
      const r = await brine(['check', '--workspace', ws.dir]);
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, new RegExp(`^ok: ${ws.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n`));
      assert.match(r.stdout, /cookie \(max_concurrency 1\)/);
      assert.match(r.stdout, /pickle \(max_concurrency 3\)/);
      assert.match(r.stdout, /skills: cron-ops, skill-creator/);
      assert.equal(r.stderr, '');
    } finally {
      await ws.cleanup();
    }
  });

  test('check on a workspace with two broken files exits 1 and lists both with file and field', async () => {
    const ws = await makeWorkspace({
      'agents/cookie/AGENT.md': agentMd('name: Cookie\nmax_concurrency: 0'),
      'config.user.yaml': 'concurrency:\n  max_totl: 4\n',
    });
    try {
      const r = await brine(['check', '--workspace', ws.dir]);
      assert.equal(r.code, 1, show(r));
      assert.match(r.stderr, /^2 problems in /);
      assert.ok(r.stderr.includes('agents/cookie/AGENT.md: max_concurrency must be an integer >= 1 (got 0)'), show(r));
      assert.ok(r.stderr.includes('config.user.yaml: concurrency.max_totl is not a known field'), show(r));
      assert.doesNotMatch(r.stdout, /ok:/);
    } finally {
      await ws.cleanup();
    }
  });

  test('check on a missing workspace exits 1 with a clear message', async () => {
    const missing = `/nonexistent-brine-${process.pid}`;
    assert.equal(existsSync(missing), false);
    const r = await brine(['check', '--workspace', missing]);
    assert.equal(r.code, 1, show(r));
    assert.ok(r.stderr.includes(`${missing}: is not a workspace folder`), show(r));
    assert.match(r.stderr, /brine init/, 'says how to fix it');
    assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace');
  });

  test('an unknown command exits 2', async () => {
    const r = await brine(['frobnicate']);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /unknown command 'frobnicate'/);
  });

  test('an unknown option exits 2', async () => {
    const r = await brine(['check', '--bogus']);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /unknown option '--bogus'/);
  });

  test('--help exits 0 and lists the commands', async () => {
    const r = await brine(['--help']);
    assert.equal(r.code, 0, show(r));
    for (const command of ['chat', 'check', 'init']) assert.match(r.stdout, new RegExp(`^\\s+${command}\\b`, 'm'), command);
  });

  test('init DIR creates a clean workspace that passes check', async () => {
    const parent = await tempDir('brine-cli-test-');
    const target = join(parent.dir, 'my-ws');
    try {
      const r = await brine(['init', target]);
      assert.equal(r.code, 0, show(r));
      assert.ok(r.stdout.includes(target), show(r));
      assert.ok(existsSync(join(target, 'agents', 'pickle', 'AGENT.md')));
      assert.ok(existsSync(join(target, 'agents', 'cookie', 'AGENT.md')));
      assert.ok(existsSync(join(target, 'skills', 'cron-ops', 'SKILL.md')));
      assert.ok(existsSync(join(target, 'config.example.yaml')));
      for (const absent of ['.history', '.events', '.logs', 'config.user.yaml', 'config.runtime.yaml', '.env']) {
        assert.equal(existsSync(join(target, absent)), false, `${absent} must not be copied`);
      }
      assert.deepEqual(await readdir(join(target, 'memories')), ['.gitkeep']);
      const check = await brine(['check', '--workspace', target]);
      assert.equal(check.code, 0, show(check));
      assert.match(check.stdout, /^ok: /);
    } finally {
      await parent.cleanup();
    }
  });

  test('init into a non-empty folder exits 1 and leaves it untouched', async () => {
    const target = await tempDir('brine-cli-test-');
    try {
      await writeFile(join(target.dir, 'notes.txt'), 'mine, do not touch\n');
      const before = await tree(target.dir);
      const r = await brine(['init', target.dir]);
      assert.equal(r.code, 1, show(r));
      assert.match(r.stderr, /not empty/);
      assert.deepEqual(await tree(target.dir), before);
    } finally {
      await target.cleanup();
    }
  });

  test('BRINE_WORKSPACE is used when --workspace is absent', async () => {
    const ws = await makeWorkspace();
    try {
      const r = await brine(['check'], { BRINE_WORKSPACE: ws.dir });
      assert.equal(r.code, 0, show(r));
      assert.ok(r.stdout.startsWith(`ok: ${ws.dir}\n`), show(r));
    } finally {
      await ws.cleanup();
    }
  });

  test('BRINE_WORKSPACE naming a broken workspace makes check fail', async () => {
    const ws = await makeWorkspace({ 'skills/notes/SKILL.md': '---\nname: notes\n---\nbody\n' });
    try {
      const r = await brine(['check'], { BRINE_WORKSPACE: ws.dir });
      assert.equal(r.code, 1, show(r));
      assert.ok(r.stderr.includes(`1 problem in ${ws.dir}`), show(r));
      assert.ok(r.stderr.includes('skills/notes/SKILL.md: description is required'), show(r));
    } finally {
      await ws.cleanup();
    }
  });

  test('--workspace wins over BRINE_WORKSPACE', async () => {
    const good = await makeWorkspace();
    try {
      const r = await brine(['check', '--workspace', good.dir], { BRINE_WORKSPACE: `/nonexistent-brine-${process.pid}` });
      assert.equal(r.code, 0, show(r));
      assert.ok(r.stdout.startsWith(`ok: ${good.dir}\n`), show(r));
    } finally {
      await good.cleanup();
    }
  });
});
