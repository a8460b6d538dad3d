import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ToolError } from '../src/errors.js';
import { editTool, readTool, writeTool } from '../src/tools/fs-tools.js';
import { resolveInWorkspace } from '../src/tools/workspace-paths.js';
import { tempDir } from './helpers/workspace.js';
import { toolContext } from './helpers/harness.js';

/** A fresh workspace (real path) plus a sibling "outside" dir, both removed after the test. */
async function setup(t: { after: (fn: () => Promise<void>) => void }, configInput: unknown = {}) {
  const { dir: root, cleanup } = await tempDir('brine-fs-');
  const workspace = path.join(root, 'ws');
  const outside = path.join(root, 'outside');
  await mkdir(workspace);
  await mkdir(outside);
  await writeFile(path.join(outside, 'secret.txt'), 'TOP SECRET\n');
  t.after(cleanup);
  const ctx = toolContext(workspace, configInput);
  return { ctx, workspace, outside };
}

/** Asserts the promise rejects with a ToolError whose message matches every pattern. */
async function rejectsWith(p: Promise<unknown>, ...patterns: (string | RegExp)[]): Promise<string> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ToolError, `expected a ToolError, got ${String(caught)}`);
  for (const pat of patterns) {
    if (typeof pat === 'string') assert.ok(caught.message.includes(pat), `message ${JSON.stringify(caught.message)} lacks ${JSON.stringify(pat)}`);
    else assert.match(caught.message, pat);
  }
  return caught.message;
}

test('read refuses ../../etc/passwd and names the path', async (t) => {
  const { ctx } = await setup(t);
  await rejectsWith(readTool.run({ path: '../../etc/passwd' }, ctx), '../../etc/passwd', 'workspace');
  // `..` that climbs out and back in is refused too.
  await rejectsWith(readTool.run({ path: 'a/../../ws/x' }, ctx), 'a/../../ws/x');
});

test('read refuses the absolute path /etc/passwd with a hint', async (t) => {
  const { ctx } = await setup(t);
  await rejectsWith(readTool.run({ path: '/etc/passwd' }, ctx), '/etc/passwd', 'absolute paths are refused', 'memories/notes.md');
});

test('non-string and empty paths are refused', async (t) => {
  const { ctx } = await setup(t);
  await rejectsWith(readTool.run({}, ctx), 'path must be a string');
  await rejectsWith(readTool.run({ path: 42 }, ctx), 'path must be a string');
  await rejectsWith(readTool.run({ path: '  ' }, ctx), 'path is empty');
});

test('a symlink pointing outside is refused for read and write', async (t) => {
  const { ctx, workspace, outside } = await setup(t);
  await symlink(path.join(outside, 'secret.txt'), path.join(workspace, 'link.txt'));
  await symlink(outside, path.join(workspace, 'outdir'));

  await rejectsWith(readTool.run({ path: 'link.txt' }, ctx), 'link.txt', 'symlink', 'outside the workspace');
  await rejectsWith(readTool.run({ path: 'outdir/secret.txt' }, ctx), 'outdir/secret.txt', 'outside the workspace');
  await rejectsWith(readTool.run({ path: 'outdir' }, ctx), 'outdir');

  // Writing through the symlinked dir, to a new file or over an existing one, is refused.
  await rejectsWith(writeTool.run({ path: 'outdir/new.txt', content: 'x' }, ctx), 'outdir/new.txt', 'outside the workspace');
  await rejectsWith(writeTool.run({ path: 'outdir/deeper/new.txt', content: 'x' }, ctx), 'outdir/deeper/new.txt');
  await rejectsWith(writeTool.run({ path: 'link.txt', content: 'pwned' }, ctx), 'link.txt');
  await rejectsWith(editTool.run({ path: 'link.txt', old_text: 'TOP', new_text: 'NOT' }, ctx), 'link.txt');

  assert.equal(await readFile(path.join(outside, 'secret.txt'), 'utf8'), 'TOP SECRET\n');
  assert.deepEqual(await readdir(outside), ['secret.txt']);
});

test('a dangling symlink pointing outside is refused for write', async (t) => {
  const { ctx, workspace, outside } = await setup(t);
  await symlink(path.join(outside, 'created.txt'), path.join(workspace, 'dangling'));
  await rejectsWith(writeTool.run({ path: 'dangling', content: 'x' }, ctx), 'dangling', 'outside the workspace');
  assert.deepEqual(await readdir(outside), ['secret.txt']);
});

test('a symlink that stays inside the workspace is followed', async (t) => {
  const { ctx, workspace } = await setup(t);
  await mkdir(path.join(workspace, 'real'));
  await writeFile(path.join(workspace, 'real', 'a.txt'), 'inside');
  await symlink('real', path.join(workspace, 'alias'));
  assert.equal(await readTool.run({ path: 'alias/a.txt' }, ctx), 'inside');
  assert.equal(await resolveInWorkspace(workspace, 'alias/a.txt'), path.join(workspace, 'real', 'a.txt'));
});

test('write then read round trip, with parent dirs created and the file on disk', async (t) => {
  const { ctx, workspace } = await setup(t);
  const content = 'héllo\nwörld\n';
  const res = await writeTool.run({ path: 'memories/deep/notes.md', content }, ctx);
  assert.equal(res, `wrote ${Buffer.byteLength(content)} bytes to memories/deep/notes.md`);
  assert.equal(await readFile(path.join(workspace, 'memories', 'deep', 'notes.md'), 'utf8'), content);
  assert.equal(await readTool.run({ path: 'memories/deep/notes.md' }, ctx), content);
  // Overwrite, and no temp files are left behind.
  await writeTool.run({ path: 'memories/deep/notes.md', content: 'v2' }, ctx);
  assert.equal(await readTool.run({ path: 'memories/deep/notes.md' }, ctx), 'v2');
  assert.deepEqual(await readdir(path.join(workspace, 'memories', 'deep')), ['notes.md']);
});

test('write refuses a non-string content and a directory target', async (t) => {
  const { ctx, workspace } = await setup(t);
  await mkdir(path.join(workspace, 'dir'));
  await rejectsWith(writeTool.run({ path: 'a.txt', content: 5 }, ctx), 'content must be a string');
  await rejectsWith(writeTool.run({ path: 'dir', content: 'x' }, ctx), 'dir', 'directory');
});

test('read: missing file, directory listing, offset/limit, truncation', async (t) => {
  const { ctx, workspace } = await setup(t, { context: { max_tool_result_chars: 100 } });
  await rejectsWith(readTool.run({ path: 'nope.txt' }, ctx), 'file not found: nope.txt');

  await mkdir(path.join(workspace, 'sub'));
  await writeFile(path.join(workspace, 'b.txt'), 'l1\nl2\nl3\nl4\n');
  const listing = await readTool.run({ path: '.' }, ctx);
  assert.deepEqual(listing.split('\n').sort(), ['b.txt', 'sub/']);

  assert.equal(await readTool.run({ path: 'b.txt', offset: 2, limit: 2 }, ctx), 'l2\nl3');
  assert.equal(await readTool.run({ path: 'b.txt', limit: 1 }, ctx), 'l1');

  await writeFile(path.join(workspace, 'big.txt'), 'x'.repeat(250));
  const big = await readTool.run({ path: 'big.txt' }, ctx);
  assert.ok(big.startsWith('x'.repeat(100) + '\n'));
  assert.ok(big.endsWith('[truncated: 150 more characters]'), big);
});

test('edit: unique replacement, ambiguous, missing, replace_all', async (t) => {
  const { ctx, workspace } = await setup(t);
  const file = path.join(workspace, 'e.txt');
  await writeFile(file, 'alpha beta\ngamma beta\nunique $ line\n');

  assert.equal(
    await editTool.run({ path: 'e.txt', old_text: 'unique $ line', new_text: 'changed $& line' }, ctx),
    'replaced 1 occurrence in e.txt',
  );
  // `$&` stays literal (no String.replace pattern expansion).
  assert.equal(await readFile(file, 'utf8'), 'alpha beta\ngamma beta\nchanged $& line\n');

  await rejectsWith(
    editTool.run({ path: 'e.txt', old_text: 'beta', new_text: 'delta' }, ctx),
    'old_text occurs 2 times in e.txt; add context or set replace_all',
  );
  assert.equal(await readFile(file, 'utf8'), 'alpha beta\ngamma beta\nchanged $& line\n');

  await rejectsWith(editTool.run({ path: 'e.txt', old_text: 'omega', new_text: 'x' }, ctx), 'old_text not found in e.txt');
  await rejectsWith(editTool.run({ path: 'missing.txt', old_text: 'a', new_text: 'b' }, ctx), 'file not found: missing.txt');

  assert.equal(
    await editTool.run({ path: 'e.txt', old_text: 'beta', new_text: 'delta', replace_all: true }, ctx),
    'replaced 2 occurrences in e.txt',
  );
  assert.equal(await readFile(file, 'utf8'), 'alpha delta\ngamma delta\nchanged $& line\n');
  assert.deepEqual(await readdir(workspace), ['e.txt']);
});

test('the workspace .env (secrets) is refused for read, write and edit, also through a symlink', async (t) => {
  const { dir: ws, cleanup } = await tempDir('brine-env-');
  t.after(cleanup);
  await writeFile(path.join(ws, '.env'), 'OPENAI_API_KEY=sk-secret\n');
  await symlink(path.join(ws, '.env'), path.join(ws, 'innocent.txt'));
  const ctx = toolContext(ws, {}, { source: 'platform-cli:a', sessionId: 's' });
  for (const p of ['.env', 'innocent.txt', 'sub/../.env', '.env.local']) {
    await assert.rejects(readTool.run({ path: p }, ctx), /\.env files hold secrets/, p);
  }
  await assert.rejects(writeTool.run({ path: '.env', content: 'X=1' }, ctx), /\.env files hold secrets/);
  await assert.rejects(editTool.run({ path: '.env', old_text: 'sk-secret', new_text: 'x' }, ctx), /\.env files hold secrets/);
  assert.equal(await readFile(path.join(ws, '.env'), 'utf8'), 'OPENAI_API_KEY=sk-secret\n', 'the secrets file is untouched');
});
