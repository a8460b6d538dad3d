import type { z } from 'zod';
import type { ConfigProblem } from '../errors.js';

/** Schema messages written for users start with "must"; zod's own defaults are rewritten below. */
const CUSTOM = /^(must|is) /;

/** Shows a value the way it was written in YAML, for "(got ...)". */
function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    const json = JSON.stringify(value);
    return json.length > 60 ? `${json.slice(0, 57)}...` : json;
  } catch {
    return String(value);
  }
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

const TYPE_WORDS: Record<string, string> = {
  int: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'a mapping (key: value)',
  array: 'a list',
};

function describeIssue(issue: z.core.$ZodIssue, value: unknown): string {
  if (CUSTOM.test(issue.message)) return `${issue.message} (got ${show(value)})`;
  switch (issue.code) {
    case 'invalid_type':
      if (value === undefined) return 'is required';
      return `must be ${TYPE_WORDS[issue.expected] ?? issue.expected} (got ${show(value)})`;
    case 'too_small':
      if (issue.origin === 'string') return `must not be empty (got ${show(value)})`;
      return `must be ${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)} (got ${show(value)})`;
    case 'too_big':
      return `must be ${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)} (got ${show(value)})`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')} (got ${show(value)})`;
    case 'invalid_format':
      return `must be a valid ${issue.format} (got ${show(value)})`;
    default:
      return `${issue.message} (got ${show(value)})`;
  }
}

/** Where a problem belongs: the file and the field path as written in it. */
export type Blame = (path: readonly PropertyKey[]) => { file: string; path: readonly PropertyKey[] };

/**
 * Turns a zod error into Brine's `file: field message (got X)` problems.
 * `file` is a file name, or a {@link Blame} that picks the file per field
 * (for merged config layers). Unknown keys become one problem per key, so a
 * typo points at itself.
 */
export function zodProblems(error: z.ZodError, input: unknown, file: string | Blame): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of error.issues) {
    const where = typeof file === 'string' ? { file, path: issue.path } : file(issue.path);
    const base = where.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const keyWhere = typeof file === 'string' ? where : file([...issue.path, key]);
        problems.push({
          file: keyWhere.file,
          field: base ? `${base}.${key}` : key,
          message: 'is not a known field; remove it or fix the spelling (see config.example.yaml / README)',
        });
      }
      continue;
    }
    problems.push({ file: where.file, field: base, message: describeIssue(issue, valueAt(input, issue.path)) });
  }
  return problems;
}
