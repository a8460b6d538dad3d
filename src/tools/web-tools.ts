import { ToolError } from '../errors.js';
import type { BrineConfig } from '../config/schema.js';
import type { Tool, ToolContext } from './types.js';

/** Per-request time limit of both web tools. */
const FETCH_TIMEOUT_MS = 20_000;
/** Bytes of a page body read at most; the rest is not downloaded. */
const MAX_BODY_BYTES = 5 * 1024 * 1024;
const USER_AGENT = 'Brine/0.1 (+self-hosted chat bot)';

/** True iff the web tools are configured (`config.tools.websearch` is set). */
export function webToolsEnabled(config: BrineConfig): boolean {
  return config.tools.websearch != null;
}

/** Cuts `text` to `max` characters, appending `[truncated: N more characters]`. */
function capText(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}\n[truncated: ${text.length - max} more characters]`;
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ',
  mdash: '—', ndash: '–', hellip: '…', copy: '©', reg: '®', trade: '™',
  lsquo: '‘', rsquo: '’', ldquo: '“', rdquo: '”', laquo: '«', raquo: '»',
  middot: '·', bull: '•', deg: '°', euro: '€', pound: '£', times: '×',
};

/** Decodes named (common ones) and numeric HTML entities in one pass, so `&amp;lt;` becomes `&lt;`. */
export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z][a-z0-9]*);/gi, (whole, ent: string) => {
    if (ent[0] === '#') {
      const n = ent[1] === 'x' || ent[1] === 'X' ? parseInt(ent.slice(2), 16) : parseInt(ent.slice(1), 10);
      if (!Number.isFinite(n) || n < 0 || n > 0x10ffff || n === 0) return whole;
      return String.fromCodePoint(n);
    }
    return NAMED_ENTITIES[ent.toLowerCase()] ?? whole;
  });
}

/**
 * Turns an HTML document into readable plain text: drops comments and
 * script/style/etc. bodies, breaks lines at block elements, strips the
 * remaining tags, decodes entities and collapses whitespace. Deliberately
 * small (no parser dependency); good enough for the model to read a page.
 */
export function htmlToText(html: string): string {
  let s = html
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(script|style|noscript|template|svg|head|iframe|object)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<(br|hr)\b[^>]*>/gi, '\n')
    .replace(/<li\b[^>]*>/gi, '\n- ')
    .replace(/<\/?(p|div|section|article|header|footer|nav|aside|main|h[1-6]|ul|ol|tr|table|blockquote|pre|dl|dt|dd|figure|figcaption|form|title)\b[^>]*>/gi, '\n')
    .replace(/<(td|th)\b[^>]*>/gi, ' ')
    .replace(/<[^>]*>/g, '');
  s = decodeEntities(s);
  s = s
    .split('\n')
    .map((line) => line.replace(/[\s\u00a0]+/g, ' ').trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n');
  return s.trim();
}

/** `<title>` of an HTML document, as text, or undefined. */
function htmlTitle(html: string): string | undefined {
  const m = /<title\b[^>]*>([\s\S]*?)<\/title\s*>/i.exec(html);
  if (!m?.[1]) return undefined;
  const t = decodeEntities(m[1].replace(/<[^>]*>/g, '')).replace(/\s+/g, ' ').trim();
  return t || undefined;
}

/** A signal aborting on the turn's cancellation or after {@link FETCH_TIMEOUT_MS}. */
function requestSignal(ctx: ToolContext): AbortSignal {
  return AbortSignal.any([ctx.signal, AbortSignal.timeout(FETCH_TIMEOUT_MS)]);
}

/** Runs `fetch`, mapping network failures, timeouts and cancellation to ToolErrors. */
async function fetchOrFail(tool: string, url: string, init: RequestInit, ctx: ToolContext): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: requestSignal(ctx), redirect: 'follow' });
  } catch (err) {
    if (ctx.signal.aborted) throw new ToolError(`${tool}: request to ${url} aborted because the turn was cancelled`, { cause: err });
    if (err instanceof Error && err.name === 'TimeoutError') {
      throw new ToolError(`${tool}: request to ${url} timed out after ${FETCH_TIMEOUT_MS / 1000}s`, { cause: err });
    }
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
    throw new ToolError(`${tool}: request to ${url} failed (${err instanceof Error ? err.message : String(err)}${cause})`, { cause: err });
  }
}

/** Reads at most {@link MAX_BODY_BYTES} of a response body; cancels the rest. */
async function readBodyCapped(res: Response): Promise<{ bytes: Uint8Array; cut: boolean }> {
  if (!res.body) return { bytes: new Uint8Array(), cut: false };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let cut = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.byteLength;
    if (total >= MAX_BODY_BYTES) {
      cut = true;
      await reader.cancel().catch(() => undefined);
      break;
    }
  }
  const bytes = new Uint8Array(Math.min(total, MAX_BODY_BYTES));
  let off = 0;
  for (const c of chunks) {
    const take = Math.min(c.byteLength, bytes.byteLength - off);
    bytes.set(c.subarray(0, take), off);
    off += take;
    if (off >= bytes.byteLength) break;
  }
  return { bytes, cut };
}

function decodeBody(bytes: Uint8Array, contentType: string): string {
  const charset = /charset\s*=\s*"?([^";\s]+)/i.exec(contentType)?.[1];
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes); // unknown charset label
  }
}

function httpError(tool: string, res: Response, url: string, hint = ''): ToolError {
  return new ToolError(`${tool}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''} from ${url}${hint}`, {
    context: { status: res.status, url },
  });
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

interface SearchHit {
  title: string;
  url: string;
  snippet: string;
}

async function readJson(tool: string, res: Response, url: string): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ToolError(`${tool}: ${url} did not return JSON (got ${JSON.stringify(text.slice(0, 80))}...)`, { cause: err });
  }
}

async function searchSearxng(baseUrl: string | null, query: string, count: number, ctx: ToolContext): Promise<SearchHit[]> {
  if (!baseUrl) {
    throw new ToolError('websearch: provider searxng needs tools.websearch.base_url (the URL of your SearXNG instance) in the config');
  }
  const url = `${baseUrl.replace(/\/+$/, '')}/search?${new URLSearchParams({ q: query, format: 'json' }).toString()}`;
  const res = await fetchOrFail('websearch', url, { headers: { Accept: 'application/json', 'User-Agent': USER_AGENT } }, ctx);
  if (!res.ok) {
    // SearXNG answers 403 when the json format is not enabled in its settings.
    const hint = res.status === 403 ? ' (is "json" listed in search.formats of the SearXNG settings.yml?)' : '';
    throw httpError('websearch', res, url, hint);
  }
  const body = asRecord(await readJson('websearch', res, url));
  const results = Array.isArray(body?.results) ? body.results : [];
  return results.slice(0, count).map((r) => {
    const o = asRecord(r) ?? {};
    return { title: str(o.title), url: str(o.url), snippet: str(o.content) };
  });
}

async function searchBrave(baseUrl: string | null, query: string, count: number, ctx: ToolContext): Promise<SearchHit[]> {
  const key = process.env.BRAVE_API_KEY;
  if (!key) throw new ToolError('websearch: provider brave needs an API key; set BRAVE_API_KEY in the environment');
  const base = (baseUrl ?? 'https://api.search.brave.com').replace(/\/+$/, '');
  const url = `${base}/res/v1/web/search?${new URLSearchParams({ q: query, count: String(count) }).toString()}`;
  const res = await fetchOrFail(
    'websearch',
    url,
    { headers: { Accept: 'application/json', 'User-Agent': USER_AGENT, 'X-Subscription-Token': key } },
    ctx,
  );
  if (!res.ok) {
    const hint = res.status === 401 || res.status === 403 ? ' (check BRAVE_API_KEY)' : res.status === 429 ? ' (rate limited)' : '';
    throw httpError('websearch', res, url, hint);
  }
  const body = asRecord(await readJson('websearch', res, url));
  const web = asRecord(body?.web);
  const results = Array.isArray(web?.results) ? web.results : [];
  return results.slice(0, count).map((r) => {
    const o = asRecord(r) ?? {};
    // Brave highlights matches with <strong>; the model wants plain text.
    return { title: htmlToText(str(o.title)), url: str(o.url), snippet: htmlToText(str(o.description)) };
  });
}

/**
 * `websearch {query, count?}`: searches the web with the configured provider
 * (SearXNG or Brave) and returns `title — url` / snippet pairs. `count`
 * defaults to and is capped at `tools.websearch.max_results`.
 */
export const websearchTool: Tool = {
  name: 'websearch',
  description: 'Search the web. Returns titles, URLs and snippets; use webread to read a result.',
  parameters: {
    type: 'object',
    properties: {
      query: { type: 'string', description: 'Search query' },
      count: { type: 'integer', minimum: 1, maximum: 20, description: 'Number of results (default and maximum: configured max_results)' },
    },
    required: ['query'],
    additionalProperties: false,
  },
  async run(args: Record<string, unknown>, ctx: ToolContext): Promise<string> {
    const ws = ctx.config.tools.websearch;
    if (!ws) throw new ToolError('websearch is not configured (set tools.websearch in the config)');
    const query = args.query;
    if (typeof query !== 'string' || query.trim() === '') throw new ToolError('websearch: query must be a non-empty string');
    let count = ws.max_results;
    if (args.count !== undefined && args.count !== null) {
      if (typeof args.count !== 'number' || !Number.isInteger(args.count) || args.count < 1) {
        throw new ToolError(`websearch: count must be a positive integer (got ${JSON.stringify(args.count)})`);
      }
      count = Math.min(args.count, ws.max_results);
    }
    const hits =
      ws.provider === 'searxng'
        ? await searchSearxng(ws.base_url, query, count, ctx)
        : await searchBrave(ws.base_url, query, count, ctx);
    if (hits.length === 0) return `no results for ${JSON.stringify(query)}`;
    const text = hits
      .map((h) => `${h.title || '(untitled)'} — ${h.url}${h.snippet ? `\n${h.snippet.trim()}` : ''}`)
      .join('\n\n');
    return capText(text, ctx.config.context.max_tool_result_chars);
  },
};

/**
 * `webread {url}`: fetches an http(s) page and returns it as plain text
 * (HTML converted), capped at `tools.webread_max_chars`. Other schemes are
 * refused; a non-2xx status is an error naming the status and URL.
 */
export const webreadTool: Tool = {
  name: 'webread',
  description: 'Fetch a web page (http or https URL) and return its text content.',
  parameters: {
    type: 'object',
    properties: {
      url: { type: 'string', description: 'Absolute http:// or https:// URL' },
    },
    required: ['url'],
    additionalProperties: false,
  },
  async run(args: Record<string, unknown>, ctx: ToolContext): Promise<string> {
    const raw = args.url;
    if (typeof raw !== 'string' || raw.trim() === '') throw new ToolError('webread: url must be a non-empty string');
    let parsed: URL;
    try {
      parsed = new URL(raw.trim());
    } catch {
      throw new ToolError(`webread: ${JSON.stringify(raw)} is not a valid absolute URL (expected http:// or https://)`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new ToolError(`webread refused ${JSON.stringify(raw)}: only http:// and https:// URLs are allowed (got ${parsed.protocol})`);
    }
    const url = parsed.href;
    const res = await fetchOrFail(
      'webread',
      url,
      { headers: { Accept: 'text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5', 'User-Agent': USER_AGENT } },
      ctx,
    );
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw httpError('webread', res, url);
    }
    const contentType = res.headers.get('content-type') ?? '';
    const mime = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
    const textual =
      mime === '' || mime.startsWith('text/') || /[/+](json|xml|javascript|xhtml\+xml)$/.test(mime) || mime === 'application/xhtml+xml';
    if (!textual) {
      await res.body?.cancel().catch(() => undefined);
      throw new ToolError(`webread: ${url} is ${mime}, not a text or HTML page`);
    }
    let body: string;
    let cut: boolean;
    try {
      const r = await readBodyCapped(res);
      body = decodeBody(r.bytes, contentType);
      cut = r.cut;
    } catch (err) {
      if (ctx.signal.aborted) throw new ToolError(`webread: reading ${url} aborted because the turn was cancelled`, { cause: err });
      throw new ToolError(`webread: reading ${url} failed (${err instanceof Error ? err.message : String(err)})`, { cause: err });
    }
    const isHtml =
      mime === 'text/html' || mime === 'application/xhtml+xml' || (mime === '' && /^\s*</.test(body));
    const title = isHtml ? htmlTitle(body) : undefined;
    const text = isHtml ? htmlToText(body) : body.trim();
    const finalUrl = res.url || url;
    const header = [title ? `Title: ${title}` : undefined, `URL: ${finalUrl}`].filter(Boolean).join('\n');
    const note = cut ? `\n[download stopped after ${MAX_BODY_BYTES} bytes]` : '';
    return `${header}\n\n${capText(text === '' ? '(no text content)' : text, ctx.config.tools.webread_max_chars)}${note}`;
  },
};
