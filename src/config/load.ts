import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import type { ConfigProblem } from '../errors.js';
import { configSchema, type BrineConfig } from './schema.js';
import { deepMerge, isPlainObject } from './merge.js';
import { zodProblems } from './zod-problems.js';
import { yamlReason } from '../workspace/frontmatter.js';

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
    problems.push({ file, field: '', message: `is not valid YAML (line ${line}): ${yamlReason(error.message)}` });
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
 * The merged result is validated once, and each problem names the file
 * that holds the field; returns `config: null` when any problem was found.
 */
export async function loadConfig(root: string): Promise<{ config: BrineConfig | null; problems: ConfigProblem[]; layers: ConfigLayers }> {
  const problems: ConfigProblem[] = [];
  const user = await readLayer(root, USER_CONFIG_FILE, problems);
  const runtime = await readLayer(root, RUNTIME_CONFIG_FILE, problems);
  const layers = { user, runtime };
  if (problems.length > 0) return { config: null, problems, layers };

  const merged = deepMerge(user, runtime);
  const userBindings = bindingsOf(user);
  const runtimeBindings = bindingsOf(runtime);
  if (userBindings.length > 0 || runtimeBindings.length > 0) {
    merged.routing = { ...(isPlainObject(merged.routing) ? merged.routing : {}), bindings: [...userBindings, ...runtimeBindings] };
  }
  // Validate the merged config once (a partial override is fine), then blame
  // each problem on the file that holds the field.
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const userBindingCount = userBindings.length;
    return { config: null, problems: zodProblems(result.error, merged, (path) => blame(path, layers, userBindingCount)), layers };
  }
  return { config: result.data, problems, layers };
}

/**
 * Which file a problem at `path` of the merged config comes from, and the
 * path as written in that file: the runtime file when it holds the field
 * (or the deeper part of it), else the user's file. Merged bindings are
 * renumbered to their index in their own file.
 */
function blame(path: readonly PropertyKey[], layers: ConfigLayers, userBindingCount: number): { file: string; path: readonly PropertyKey[] } {
  if (path[0] === 'routing' && path[1] === 'bindings' && typeof path[2] === 'number') {
    const index = path[2];
    return index < userBindingCount
      ? { file: USER_CONFIG_FILE, path }
      : { file: RUNTIME_CONFIG_FILE, path: ['routing', 'bindings', index - userBindingCount, ...path.slice(3)] };
  }
  const depth = (layer: unknown) => {
    let d = 0;
    let current = layer;
    for (const key of path) {
      if (!isPlainObject(current) || !(String(key) in current)) break;
      current = current[String(key)];
      d += 1;
    }
    return d;
  };
  const runtimeDepth = depth(layers.runtime);
  return { file: runtimeDepth > 0 && runtimeDepth >= depth(layers.user) ? RUNTIME_CONFIG_FILE : USER_CONFIG_FILE, path };
}

/** Which file sets a top-level key (the later layer wins), or the user's file when neither does. */
export function fileSetting(key: string, layers: ConfigLayers): string {
  if (key in layers.runtime) return RUNTIME_CONFIG_FILE;
  return USER_CONFIG_FILE;
}

function bindingsOf(layer: Record<string, unknown>): unknown[] {
  const routing = layer.routing;
  return isPlainObject(routing) && Array.isArray(routing.bindings) ? routing.bindings : [];
}
