import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The workspace folder: `--workspace`, else `$BRINE_WORKSPACE`, else
 * `./default_workspace` (DESIGN.md section 1), resolved against the current folder.
 */
export function resolveWorkspaceDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flag ?? (env.BRINE_WORKSPACE?.trim() || 'default_workspace'));
}

/** The folder of Brine's own package.json (works from src via tsx and from dist). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'brine') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the brine package root');
    dir = parent;
  }
}
