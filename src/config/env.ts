import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import dotenv from 'dotenv';

/**
 * Loads secrets from `.env` files into `process.env` with dotenv: the one in
 * the workspace folder first, then the one in the current folder (the
 * project). Variables already set in the environment always win. Returns the
 * files that were read (names only; values are never logged).
 */
export function loadDotenv(workspaceDir: string, cwd: string = process.cwd()): string[] {
  const candidates = [...new Set([join(resolve(workspaceDir), '.env'), join(resolve(cwd), '.env')])].filter((p) => existsSync(p));
  if (candidates.length > 0) dotenv.config({ path: candidates, quiet: true });
  return candidates;
}
