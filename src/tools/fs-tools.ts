import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic-write.js';
import path from 'node:path';
import { ToolError } from '../errors.js';
import type { Tool, ToolContext } from './types.js';
import { resolveInWorkspace } from './workspace-paths.js';

/** Files larger than this are refused by `read`/`edit` rather than loaded into memory. */
const MAX_FILE_BYTES = 10 * 1024 * 1024;

function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** Cuts `text` to `max` characters, appending `[truncated: N more characters]`. */
function capText(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}\n[truncated: ${text.length - max} more characters]`;
}

/** Validates an optional non-negative integer argument. */
function optionalCount(args: Record<string, unknown>, name: string): number | undefined {
  const v = args[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new ToolError(`${name} must be a non-negative integer (got ${JSON.stringify(v)})`);
  }
  return v;
}

function requireString(args: Record<string, unknown>, name: string, tool: string): string {
  const v = args[name];
  if (typeof v !== 'string') throw new ToolError(`${tool}: ${name} must be a string (got ${v === null ? 'null' : typeof v})`);
  return v;
}

/** Reads a text file the tools may edit; maps fs errors to model-readable ToolErrors. */
async function readTextFile(abs: string, shown: string): Promise<string> {
  let st;
  try {
    st = await stat(abs);
  } catch (err) {
    const code = errCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ToolError(`file not found: ${shown}`, { cause: err });
    throw new ToolError(`cannot read ${shown}: ${code ?? String(err)}`, { cause: err });
  }
  if (st.isDirectory()) throw new ToolError(`${shown} is a directory, not a file`);
  if (st.size > MAX_FILE_BYTES) {
    throw new ToolError(`${shown} is ${st.size} bytes; files over ${MAX_FILE_BYTES} bytes are not loaded`);
  }
  const buf = await readFile(abs);
  // A NUL byte near the start is the usual binary-file heuristic (git, grep).
  if (buf.subarray(0, 8192).includes(0)) throw new ToolError(`${shown} looks like a binary file; only text files can be read`);
  return buf.toString('utf8');
}

/** Lists a directory: one entry per line, sorted, directories suffixed with `/`. */
async function listDirectory(abs: string): Promise<string> {
  const entries = await readdir(abs, { withFileTypes: true });
  if (entries.length === 0) return '(empty directory)';
  return entries
    .map((e) => (e.isDirectory() ? `${e.name}/` : e.name))
    .sort((a, b) => a.localeCompare(b))
    .join('\n');
}

/**
 * `read {path, offset?, limit?}`: plain text of a workspace file, or the
 * entries of a directory. `offset` is the 1-based first line (0 and 1 both mean
 * the start), `limit` the number of lines. Output is capped at
 * `config.context.max_tool_result_chars`.
 */
export const readTool: Tool = {
  name: 'read',
  description:
    'Read a text file in the workspace (path relative to the workspace). For a directory, lists its entries. Use offset/limit (lines) for long files.',
  parameters: {
    type: 'object',
    properties: {
      path: { type: 'string', description: 'Path relative to the workspace, e.g. memories/notes.md' },
      offset: { type: 'integer', minimum: 0, description: '1-based line number to start from (default: 1)' },
      limit: { type: 'integer', minimum: 0, description: 'Maximum number of lines to return (default: all)' },
    },
    required: ['path'],
    additionalProperties: false,
  },
  async run(args: Record<string, unknown>, ctx: ToolContext): Promise<string> {
    const abs = await resolveInWorkspace(ctx.workspace, args.path);
    const shown = String(args.path);
    const offset = optionalCount(args, 'offset');
    const limit = optionalCount(args, 'limit');
    const max = ctx.config.context.max_tool_result_chars;

    let isDir = false;
    try {
      isDir = (await stat(abs)).isDirectory();
    } catch (err) {
      const code = errCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new ToolError(`file not found: ${shown}`, { cause: err });
      throw new ToolError(`cannot read ${shown}: ${code ?? String(err)}`, { cause: err });
    }
    if (isDir) return capText(await listDirectory(abs), max);

    let text = await readTextFile(abs, shown);
    if (offset !== undefined || limit !== undefined) {
      const lines = text.split('\n');
      const start = Math.max(0, (offset ?? 1) - 1);
      if (start > 0 && start >= lines.length) {
        return `${shown} has only ${lines.length} lines; offset ${offset} is past the end`;
      }
      text = lines.slice(start, limit === undefined ? undefined : start + limit).join('\n');
    }
    if (text === '') return `(${shown} is empty)`;
    return capText(text, max);
  },
};

/** `write {path, content}`: creates or replaces a workspace file (parents created, atomic). */
export const writeTool: Tool = {
  name: 'write',
  description:
    'Create or overwrite a text file in the workspace (path relative to the workspace). Parent directories are created.',
  parameters: {
    type: 'object',
    properties: {
      path: { type: 'string', description: 'Path relative to the workspace, e.g. memories/notes.md' },
      content: { type: 'string', description: 'The full new content of the file' },
    },
    required: ['path', 'content'],
    additionalProperties: false,
  },
  async run(args: Record<string, unknown>, ctx: ToolContext): Promise<string> {
    const abs = await resolveInWorkspace(ctx.workspace, args.path, { forWrite: true });
    const shown = String(args.path);
    const content = requireString(args, 'content', 'write');
    try {
      await mkdir(path.dirname(abs), { recursive: true });
    } catch (err) {
      throw new ToolError(`cannot create the parent directory of ${shown}: ${errCode(err) ?? String(err)}`, { cause: err });
    }
    // Re-check after mkdir: a concurrent change could have swapped a parent for a symlink.
    await resolveInWorkspace(ctx.workspace, args.path, { forWrite: true });
    try {
      if ((await stat(abs)).isDirectory()) throw new ToolError(`cannot write ${shown}: it is a directory`);
    } catch (err) {
      if (err instanceof ToolError) throw err;
      // ENOENT: a new file, fine.
    }
    try {
      await writeFileAtomic(abs, content);
    } catch (err) {
      throw new ToolError(`cannot write ${shown}: ${errCode(err) ?? String(err)}`, { cause: err });
    }
    return `wrote ${Buffer.byteLength(content, 'utf8')} bytes to ${shown}`;
  },
};

/** Counts non-overlapping occurrences of `needle` (non-empty) in `hay`. */
function countOccurrences(hay: string, needle: string): number {
  let n = 0;
  for (let i = hay.indexOf(needle); i !== -1; i = hay.indexOf(needle, i + needle.length)) n++;
  return n;
}

/**
 * `edit {path, old_text, new_text, replace_all?}`: replaces an exact snippet in
 * a workspace file. `old_text` must occur exactly once unless `replace_all`.
 */
export const editTool: Tool = {
  name: 'edit',
  description:
    'Replace exact text in a workspace file. old_text must match exactly once (include surrounding lines to make it unique) unless replace_all is true.',
  parameters: {
    type: 'object',
    properties: {
      path: { type: 'string', description: 'Path relative to the workspace' },
      old_text: { type: 'string', description: 'Exact text to replace (whitespace matters)' },
      new_text: { type: 'string', description: 'Replacement text' },
      replace_all: { type: 'boolean', description: 'Replace every occurrence (default: false)' },
    },
    required: ['path', 'old_text', 'new_text'],
    additionalProperties: false,
  },
  async run(args: Record<string, unknown>, ctx: ToolContext): Promise<string> {
    const abs = await resolveInWorkspace(ctx.workspace, args.path, { forWrite: true });
    const shown = String(args.path);
    const oldText = requireString(args, 'old_text', 'edit');
    const newText = requireString(args, 'new_text', 'edit');
    const replaceAll = args.replace_all;
    if (replaceAll !== undefined && replaceAll !== null && typeof replaceAll !== 'boolean') {
      throw new ToolError(`edit: replace_all must be true or false (got ${JSON.stringify(replaceAll)})`);
    }
    if (oldText === '') throw new ToolError('edit: old_text is empty; give the exact text to replace');

    const text = await readTextFile(abs, shown);
    const count = countOccurrences(text, oldText);
    if (count === 0) throw new ToolError(`old_text not found in ${shown}`);
    if (count > 1 && replaceAll !== true) {
      throw new ToolError(`old_text occurs ${count} times in ${shown}; add context or set replace_all`);
    }
    // split/join and slicing, not String.replace: `$&`-style patterns in new_text stay literal.
    let updated: string;
    if (count > 1) {
      updated = text.split(oldText).join(newText);
    } else {
      const i = text.indexOf(oldText);
      updated = text.slice(0, i) + newText + text.slice(i + oldText.length);
    }
    try {
      await writeFileAtomic(abs, updated);
    } catch (err) {
      throw new ToolError(`cannot write ${shown}: ${errCode(err) ?? String(err)}`, { cause: err });
    }
    return `replaced ${count} occurrence${count === 1 ? '' : 's'} in ${shown}`;
  },
};
