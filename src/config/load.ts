import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import type { ConfigProblem } from '../errors.js';
import { configSchema, type BrineConfig } from './schema.js';
import { deepMerge, isPlainObject } from './merge.js';
import { zodProblems } from './zod-problems.js';

/** The user's settings file, relative to the workspace. */
export const USER_CONFIG_FILE = 'config.user.yaml';
/** The file the bot writes (bindings added by /route). */
export const RUNTIME_CONFIG_FILE = 'config.runtime.yaml';

/** Reads one optional YAML config file; a missing file is an empty mapping. */
async function readLayer(root: string, file: string, problems: ConfigProblem[]): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(join(root, file), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    problems.push({ file, field: '', message: `cannot be read: ${(err as Error).message}` });
    return {};
  }
  const doc = parseDocument(text, { prettyErrors: true });
  const error = doc.errors[0];
  if (error) {
    const line = error.linePos?.[0]?.line ?? 0;
    problems.push({ file, field: '', message: `is not valid YAML (line ${line}): ${error.message.split('\n')[0]}` });
    return {};
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) return {};
  if (!isPlainObject(data)) {
    problems.push({ file, field: '', message: 'must be a YAML mapping of settings (key: value); see config.example.yaml' });
    return {};
  }
  return data;
}

/** The parsed (unvalidated) layers, kept so errors can be blamed on the right file. */
export interface ConfigLayers {
  user: Record<string, unknown>;
  runtime: Record<string, unknown>;
}

/**
 * Loads defaults <- config.user.yaml <- config.runtime.yaml and validates the
 * result once. Lists are replaced by later layers, with one exception:
 * `routing.bindings` from the runtime file are appended after the user's, so
 * bindings added with `/route` never hide hand-written ones.
 *
 * Each layer is validated on its own first so a problem names the file it is
 * in; returns `config: null` when any problem was found.
 */
export async function loadConfig(root: string): Promise<{ config: BrineConfig | null; problems: ConfigProblem[]; layers: ConfigLayers }> {
  const problems: ConfigProblem[] = [];
  const user = await readLayer(root, USER_CONFIG_FILE, problems);
  const runtime = await readLayer(root, RUNTIME_CONFIG_FILE, problems);
  const layers = { user, runtime };
  for (const [file, layer] of [[USER_CONFIG_FILE, user], [RUNTIME_CONFIG_FILE, runtime]] as const) {
    const result = configSchema.safeParse(layer);
    if (!result.success) problems.push(...zodProblems(file, result.error, layer));
  }
  if (problems.length > 0) return { config: null, problems, layers };

  const merged = deepMerge(user, runtime);
  const userBindings = bindingsOf(user);
  const runtimeBindings = bindingsOf(runtime);
  if (userBindings.length > 0 || runtimeBindings.length > 0) {
    merged.routing = { ...(isPlainObject(merged.routing) ? merged.routing : {}), bindings: [...userBindings, ...runtimeBindings] };
  }
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    return { config: null, problems: zodProblems(USER_CONFIG_FILE, result.error, merged), layers };
  }
  return { config: result.data, problems, layers };
}

function bindingsOf(layer: Record<string, unknown>): unknown[] {
  const routing = layer.routing;
  return isPlainObject(routing) && Array.isArray(routing.bindings) ? routing.bindings : [];
}
