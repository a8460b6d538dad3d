import { parseDocument } from 'yaml';

/** A markdown file split into its YAML frontmatter and body. */
export interface FrontmatterFile {
  /** Parsed frontmatter (a mapping). */
  data: Record<string, unknown>;
  /** Markdown after the closing `---`, trimmed. */
  body: string;
}

/** Result of {@link parseFrontmatter}: the file or one human-readable problem. */
export type FrontmatterResult = { ok: true; file: FrontmatterFile } | { ok: false; message: string };

const OPEN = /^\uFEFF?---[ \t]*\r?\n/;
const CLOSE = /^---[ \t]*$/m;

/**
 * Splits `---\n<yaml>\n---\n<body>` and parses the YAML with `yaml`.
 * Never throws: a missing fence, broken YAML or a non-mapping comes back as a
 * message that says how to fix it (the caller adds the file name).
 */
export function parseFrontmatter(text: string): FrontmatterResult {
  const open = OPEN.exec(text);
  if (!open) {
    return { ok: false, message: 'has no YAML frontmatter; start the file with a line "---", the fields, then another "---"' };
  }
  const rest = text.slice(open[0].length);
  const close = CLOSE.exec(rest);
  if (!close) {
    return { ok: false, message: 'frontmatter is not closed; add a line "---" after the fields' };
  }
  const yamlText = rest.slice(0, close.index);
  const body = rest.slice(close.index + close[0].length).trim();
  const doc = parseDocument(yamlText, { prettyErrors: true });
  const firstError = doc.errors[0];
  if (firstError) {
    // +1: the opening fence is line 1 of the file.
    const line = (firstError.linePos?.[0]?.line ?? 0) + 1;
    return { ok: false, message: `frontmatter is not valid YAML (line ${line}): ${yamlReason(firstError.message)}` };
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) return { ok: true, file: { data: {}, body } };
  if (typeof data !== 'object' || Array.isArray(data)) {
    return { ok: false, message: 'frontmatter must be a YAML mapping of fields (key: value)' };
  }
  return { ok: true, file: { data: data as Record<string, unknown>, body } };
}

/** The yaml library's message without its own position suffix (ours counts file lines). */
export function yamlReason(message: string): string {
  return (message.split('\n')[0] ?? '').replace(/\s+at line \d+, column \d+:?\s*$/, '');
}
