import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { configSchema } from '../src/config/schema.js';
import { ToolError } from '../src/errors.js';
import type { ToolContext } from '../src/tools/types.js';
import { htmlToText, webreadTool, websearchTool, webToolsEnabled } from '../src/tools/web-tools.js';
import { toolContext } from './helpers/harness.js';

/** Requests the fake server saw, for asserting query strings and headers. */
const seen: { url: string; headers: http.IncomingHttpHeaders }[] = [];

const PAGE = `<!doctype html>
<html><head><title>Pickle &amp; Co</title><style>body { color: red }</style>
<script>var secret = "do not show";</script></head>
<body><!-- a comment -->
<h1>Hello&nbsp;world</h1>
<p>Fish   &amp; chips &lt;tasty&gt; &#8212; &#x41;&quot;B&quot;</p>
<ul><li>one</li><li>two</li></ul>
<script type="module">alert("nope")</script>
</body></html>`;

const server = http.createServer((req, res) => {
  seen.push({ url: req.url ?? '', headers: req.headers });
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (url.pathname === '/search') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        query: url.searchParams.get('q'),
        results: [
          { title: 'First result', url: 'https://example.org/1', content: 'First snippet.' },
          { title: 'Second result', url: 'https://example.org/2', content: 'Second snippet.' },
          { title: 'Third result', url: 'https://example.org/3', content: 'Third snippet.' },
        ],
      }),
    );
  } else if (url.pathname === '/res/v1/web/search') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ web: { results: [{ title: 'Brave <strong>hit</strong>', url: 'https://b.example/', description: 'A <strong>bold</strong> claim' }] } }));
  } else if (url.pathname === '/page') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  } else if (url.pathname === '/big') {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<html><body><p>${'a'.repeat(500)}</p></body></html>`);
  } else if (url.pathname === '/plain') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('just <b>text</b>\n');
  } else if (url.pathname === '/image') {
    res.writeHead(200, { 'content-type': 'image/png' });
    res.end(Buffer.from([0x89, 0x50, 0x4e, 0x47]));
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('nope');
  }
});

let base = '';
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A ToolContext with `configInput` (the web tools never touch the workspace). */
function ctxWith(configInput: unknown): ToolContext {
  return toolContext('/nonexistent-workspace', configInput);
}

function searxCtx(extra: Record<string, unknown> = {}): ToolContext {
  return ctxWith({ tools: { websearch: { provider: 'searxng', base_url: `${base}/`, ...extra } } });
}

async function toolError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ToolError, `expected ToolError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected a rejection');
}

test('webToolsEnabled follows tools.websearch', () => {
  assert.equal(webToolsEnabled(configSchema.parse({})), false);
  assert.equal(webToolsEnabled(configSchema.parse({ tools: { websearch: { provider: 'brave' } } })), true);
});

test('websearch via SearXNG formats title — url and snippet, honouring count', async () => {
  seen.length = 0;
  const out = await websearchTool.run({ query: 'pickle jars', count: 2 }, searxCtx());
  assert.equal(out, 'First result — https://example.org/1\nFirst snippet.\n\nSecond result — https://example.org/2\nSecond snippet.');
  const req = seen.find((r) => r.url.startsWith('/search'));
  assert.ok(req, 'server saw the search');
  const q = new URL(req.url, base).searchParams;
  assert.equal(q.get('q'), 'pickle jars');
  assert.equal(q.get('format'), 'json');
});

test('websearch count defaults to and is capped by max_results', async () => {
  const out = await websearchTool.run({ query: 'x', count: 10 }, searxCtx({ max_results: 1 }));
  assert.equal(out, 'First result — https://example.org/1\nFirst snippet.');
});

test('websearch errors: not configured, searxng without base_url, brave without key', async () => {
  assert.match(await toolError(websearchTool.run({ query: 'x' }, ctxWith({}))), /not configured/);
  assert.match(
    await toolError(websearchTool.run({ query: 'x' }, ctxWith({ tools: { websearch: { provider: 'searxng' } } }))),
    /tools\.websearch\.base_url/,
  );
  const prev = process.env.BRAVE_API_KEY;
  delete process.env.BRAVE_API_KEY;
  try {
    assert.match(
      await toolError(websearchTool.run({ query: 'x' }, ctxWith({ tools: { websearch: { provider: 'brave', base_url: base } } }))),
      /set BRAVE_API_KEY in the environment/,
    );
  } finally {
    if (prev !== undefined) process.env.BRAVE_API_KEY = prev;
  }
});

test('websearch via Brave sends the key header and strips highlight tags', async () => {
  const prev = process.env.BRAVE_API_KEY;
  process.env.BRAVE_API_KEY = 'test-key';
  seen.length = 0;
  try {
    const out = await websearchTool.run({ query: 'hi' }, ctxWith({ tools: { websearch: { provider: 'brave', base_url: base } } }));
    assert.equal(out, 'Brave hit — https://b.example/\nA bold claim');
    const req = seen.find((r) => r.url.startsWith('/res/v1/web/search'));
    assert.ok(req);
    assert.equal(req.headers['x-subscription-token'], 'test-key');
    assert.equal(new URL(req.url, base).searchParams.get('q'), 'hi');
  } finally {
    if (prev === undefined) delete process.env.BRAVE_API_KEY;
    else process.env.BRAVE_API_KEY = prev;
  }
});

test('webread converts HTML to plain text', async () => {
  const out = await webreadTool.run({ url: `${base}/page` }, ctxWith({}));
  assert.match(out, /^Title: Pickle & Co\nURL: http:\/\/127\.0\.0\.1:\d+\/page\n\n/);
  assert.match(out, /Hello world/);
  assert.match(out, /Fish & chips <tasty> — A"B"/);
  assert.match(out, /- one\n- two/);
  for (const hidden of ['do not show', 'alert', 'color: red', 'a comment', '<h1>', '&amp;']) {
    assert.ok(!out.includes(hidden), `output contains ${hidden}: ${out}`);
  }
});

test('webread returns text/plain as-is', async () => {
  const out = await webreadTool.run({ url: `${base}/plain` }, ctxWith({}));
  assert.match(out, /\n\njust <b>text<\/b>$/);
});

test('webread truncates at tools.webread_max_chars with a note', async () => {
  const out = await webreadTool.run({ url: `${base}/big` }, ctxWith({ tools: { webread_max_chars: 100 } }));
  assert.ok(out.includes(`\n\n${'a'.repeat(100)}\n[truncated: 400 more characters]`), out);
  assert.ok(!out.includes('a'.repeat(101)));
});

test('webread: non-2xx is an error naming the status and URL', async () => {
  const msg = await toolError(webreadTool.run({ url: `${base}/missing` }, ctxWith({})));
  assert.match(msg, /404/);
  assert.ok(msg.includes(`${base}/missing`), msg);
});

test('webread refuses file:// and other non-http URLs', async () => {
  const msg = await toolError(webreadTool.run({ url: 'file:///etc/passwd' }, ctxWith({})));
  assert.match(msg, /file:\/\/\/etc\/passwd/);
  assert.match(msg, /only http:\/\/ and https:\/\//);
  assert.match(await toolError(webreadTool.run({ url: 'not a url' }, ctxWith({}))), /not a valid absolute URL/);
  assert.match(await toolError(webreadTool.run({ url: `${base}/image` }, ctxWith({}))), /image\/png/);
});

test('htmlToText keeps literal entities decoded once', () => {
  assert.equal(htmlToText('<p>&amp;lt;b&amp;gt;</p>'), '&lt;b&gt;');
});
