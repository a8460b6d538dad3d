import { lstat, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { ToolError } from '../errors.js';

/** Example shown to the model whenever it sends a path we refuse. */
const PATH_HINT = 'use a path relative to the workspace, e.g. memories/notes.md';

/** Symlink hops followed before giving up (mirrors the kernel's ELOOP limit). */
const MAX_LINK_HOPS = 40;

/** `.env` and `.env.<name>` (but not `.env.example`) hold secrets. */
function isSecretsFile(p: string): boolean {
  const name = path.basename(p);
  return name === '.env' || (name.startsWith('.env.') && name !== '.env.example');
}

/** True when `target` is `root` itself or lies below it (both absolute, normalized). */
export function isInside(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/**
 * Real path of `p` as far as it exists: the deepest existing ancestor is
 * realpath'd and the missing tail appended. Dangling symlinks are followed
 * lexically, so `link -> /outside/new-file` resolves to `/outside/new-file`
 * (and is then refused) instead of looking like a harmless missing file.
 */
async function realpathLoose(p: string, hops = 0): Promise<string> {
  if (hops > MAX_LINK_HOPS) throw new ToolError(`too many levels of symbolic links at ${p}`);
  try {
    return await realpath(p);
  } catch (err) {
    const code = errCode(err);
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
  }
  // `p` does not fully resolve. Is `p` itself a dangling symlink?
  try {
    const st = await lstat(p);
    if (st.isSymbolicLink()) {
      const target = await readlink(p);
      return realpathLoose(path.resolve(path.dirname(p), target), hops + 1);
    }
  } catch (err) {
    const code = errCode(err);
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
  }
  const parent = path.dirname(p);
  if (parent === p) return p; // filesystem root
  return path.join(await realpathLoose(parent, hops), path.basename(p));
}

/**
 * Resolves a path the model gave (relative to the workspace) to an absolute
 * real path that is guaranteed to lie inside the workspace, or throws a
 * {@link ToolError} naming the offending path.
 *
 * Refused: non-strings and empty strings, absolute paths, paths whose
 * normalized form climbs out with `..`, and paths that leave the workspace
 * through a symlink (the deepest existing ancestor is realpath'd, so a write
 * into a symlinked directory pointing outside is refused too).
 *
 * The returned path has symlinks resolved, so callers operate on the real
 * target rather than re-following links later.
 *
 * @param workspace absolute real path of the workspace root (`ctx.workspace`)
 * @param relPath the path argument exactly as the model sent it
 * @param opts.forWrite the caller will create or replace the file: the
 *   workspace root itself is refused as a target
 */
export async function resolveInWorkspace(
  workspace: string,
  relPath: unknown,
  opts: { forWrite?: boolean } = {},
): Promise<string> {
  if (typeof relPath !== 'string') {
    throw new ToolError(`path must be a string (got ${relPath === null ? 'null' : typeof relPath}); ${PATH_HINT}`);
  }
  if (relPath.trim() === '') throw new ToolError(`path is empty; ${PATH_HINT}`);
  if (relPath.includes('\0')) throw new ToolError(`path ${JSON.stringify(relPath)} contains a NUL byte`);
  const shown = JSON.stringify(relPath);
  if (path.isAbsolute(relPath)) {
    throw new ToolError(`refused ${shown}: absolute paths are refused; ${PATH_HINT}`);
  }
  // Lexical check first: `..` that climbs above the root is refused even if it
  // would happen to land back inside (e.g. `../workspace/x`); it is never needed.
  const normalized = path.normalize(relPath);
  if (normalized === '..' || normalized.startsWith(`..${path.sep}`)) {
    throw new ToolError(`refused ${shown}: the path climbs out of the workspace with ".."; ${PATH_HINT}`);
  }
  const lexical = path.resolve(workspace, normalized);
  if (!isInside(workspace, lexical)) {
    throw new ToolError(`refused ${shown}: it lies outside the workspace; ${PATH_HINT}`);
  }

  // Symlink check: whatever exists of the path must really be inside.
  let real: string;
  try {
    real = await realpathLoose(lexical);
  } catch (err) {
    if (err instanceof ToolError) throw new ToolError(`refused ${shown}: ${err.message}`);
    throw new ToolError(`cannot resolve ${shown}: ${errCode(err) ?? String(err)}`, { cause: err });
  }
  if (!isInside(workspace, real)) {
    throw new ToolError(
      `refused ${shown}: it goes through a symlink that points outside the workspace; only files inside the workspace can be ${opts.forWrite ? 'written' : 'read'}`,
    );
  }
  // A workspace .env holds the bot's secrets (dotenv loads it); the model must
  // never read them back out to a chat, nor plant new ones.
  if (isSecretsFile(real) || isSecretsFile(lexical)) {
    throw new ToolError(`refused ${shown}: .env files hold secrets and are off limits to tools`);
  }
  if (opts.forWrite && real === workspace) {
    throw new ToolError(`refused ${shown}: that is the workspace root directory, not a file`);
  }
  return real;
}
