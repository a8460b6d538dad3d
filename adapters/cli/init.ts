import { cp, readdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { packageRoot } from './paths.js';

/** Runtime state and personal files that a new workspace must not inherit. */
const SKIP = new Set(['.history', '.events', '.logs', 'config.user.yaml', 'config.runtime.yaml', '.env']);

/**
 * `brine init DIR`: copies default_workspace/ to DIR (which must not exist or
 * be empty), without runtime state or memories. Returns the exit code.
 */
export async function initCommand(dir: string, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const target = resolve(dir);
  try {
    if ((await readdir(target)).length > 0) {
      err.write(`${target} already exists and is not empty; choose a new folder for the workspace\n`);
      return 1;
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') {
      err.write(`${target} is a file; choose a new folder for the workspace\n`);
      return 1;
    }
    // ENOENT: fine, cp creates it.
  }
  const source = join(packageRoot(), 'default_workspace');
  const memories = join(source, 'memories');
  await cp(source, target, {
    recursive: true,
    filter: (path) => !SKIP.has(basename(path)) && !(path.startsWith(`${memories}/`) && basename(path) !== '.gitkeep'),
  });
  out.write(`Created a workspace in ${target}.\nNext: brine check --workspace ${dir}, then brine chat --workspace ${dir}\n`);
  return 0;
}
