// The local HTTP/WebSocket API (DESIGN.md section 5), end to end: a real
// BrineServer in-process on a temp workspace, the local API on a free port,
// the real openai SDK against the fake LLM (in-flight keys = agent ids), and
// `ws` clients. Waits are on awaited frames and the fake's counters, never on
// sleeps; the only pauses (fake.settle) come before asserting an absence.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { startLocalApi, type LocalApiFixture } from './helpers/local-api-server.js';
import { until, WsTestClient } from './helpers/local-api-client.js';
import type { PublicStatus, ServerFrame } from '../adapters/web/frames.js';
import type { StatusReport } from '../src/server/status.js';

/** No test may hang: a broken path fails by timeout instead. */
const T = { timeout: 20_000 };

async function setup(t: TestContext, options: Parameters<typeof startLocalApi>[0] = {}): Promise<LocalApiFixture> {
  const fixture = await startLocalApi(options);
  t.after(() => fixture.stop());
  return fixture;
}

async function connect(t: TestContext, fixture: LocalApiFixture): Promise<WsTestClient> {
  const client = await WsTestClient.connect(fixture.url);
  t.after(() => client.close());
  return client;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  return (await res.json()) as T;
}

/** The value of one sample line of the Prometheus text, e.g. `brine_agent_running{agent="cookie"}`. */
function metric(text: string, sample: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

const isFinal = (source: string) => (f: ServerFrame) => f.source === source && (f.type === 'reply' || f.type === 'error');
const isType = (type: ServerFrame['type'], source: string) => (f: ServerFrame) => f.type === type && f.source === source;
const cookieIs = (running: number, queued: number) => (f: ServerFrame) => {
  const cookie = f.type === 'status' ? (f.content as PublicStatus).agents.cookie : undefined;
  return cookie?.running === running && cookie.queued === queued;
};

test('GET /health, /, /agents and unknown routes', T, async (t) => {
  const { url } = await setup(t);
  assert.deepEqual(await getJson(`${url}/health`), { ok: true });

  const page = await fetch(`${url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  const html = await page.text();
  assert.match(html, /<title>Brine web chat<\/title>/);
  assert.doesNotMatch(html, /<(script|link)[^>]+(src|href)="https?:/, 'the page loads nothing from the network');

  const agents = await getJson<{ id: string; name: string; max_concurrency: number }[]>(`${url}/agents`);
  assert.deepEqual(
    agents.map((a) => [a.id, a.name, a.max_concurrency]).sort(),
    [
      ['cookie', 'Cookie', 1],
      ['pickle', 'Pickle', 3],
    ],
  );

  const missing = await fetch(`${url}/nope`);
  assert.equal(missing.status, 404);
  assert.match(await missing.text(), /no route \/nope/);
  const post = await fetch(`${url}/status`, { method: 'POST' });
  assert.equal(post.status, 405);
});

test('a ws client chats and gets its reply; another client sees none of it', T, async (t) => {
  const fixture = await setup(t);
  const alice = await connect(t, fixture);
  const bystander = await connect(t, fixture);

  alice.send({ source: 'alice', content: 'hello there' });
  const reply = await alice.waitFor(isFinal('platform-ws:alice'), 'the reply to alice');
  assert.equal(reply.type, 'reply');
  assert.equal(reply.content, 'pickle says: hello there', 'routing picked the default agent');
  assert.equal(reply.agent, 'pickle');
  assert.equal(typeof reply.session_id, 'string');
  const started = await alice.waitFor(isType('started', 'platform-ws:alice'), 'started');
  assert.equal(started.session_id, reply.session_id);
  assert.ok(alice.frames.indexOf(started) < alice.frames.indexOf(reply), 'started comes before the reply');

  // The id given whole names the same source, so the same session.
  alice.send({ source: 'platform-ws:alice', content: 'again' });
  const second = await alice.waitFor((f) => isFinal('platform-ws:alice')(f) && f !== reply, 'the second reply');
  assert.equal(second.content, 'pickle says: again');
  assert.equal(second.session_id, reply.session_id);

  await fixture.fake.settle();
  assert.ok(bystander.frames.length > 0, 'the bystander gets status frames');
  assert.deepEqual(bystander.conversation, [], 'the bystander gets no frame of alice');
  assert.ok(alice.conversation.every((f) => f.source === 'platform-ws:alice'));
});

test('cookie (limit 1): one running, one queued in /status, /metrics and status frames; 0/0 after', T, async (t) => {
  const fixture = await setup(t, { hold: true });
  const { fake, url } = fixture;
  const a = await connect(t, fixture);
  const b = await connect(t, fixture);
  const watcher = await connect(t, fixture);

  a.send({ source: 'a', content: 'remember A', agent: 'cookie' });
  await fake.waitForPending(1, 5000, 'cookie');
  await a.waitFor(isType('started', 'platform-ws:a'), 'a started');
  b.send({ source: 'b', content: 'remember B', agent: 'cookie' });
  const queued = await b.waitFor(isType('queued', 'platform-ws:b'), 'b queued');
  assert.equal(queued.position, 1);
  assert.equal(queued.agent, 'cookie');
  assert.equal(queued.content, 'queued (position 1)');

  const status = await getJson<StatusReport>(`${url}/status`);
  assert.deepEqual({ ...status.agents.cookie, oldest_wait_s: 0 }, { limit: 1, running: 1, queued: 1, oldest_wait_s: 0 });
  assert.deepEqual(status.agents.pickle, { limit: 3, running: 0, queued: 0, oldest_wait_s: 0 });
  assert.equal(fake.inFlight('cookie'), 1, 'the limit holds at the model too');
  const busy = await (await fetch(`${url}/metrics`)).text();
  assert.equal(metric(busy, 'brine_agent_limit{agent="cookie"}'), 1);
  assert.equal(metric(busy, 'brine_agent_running{agent="cookie"}'), 1);
  assert.equal(metric(busy, 'brine_agent_queued{agent="cookie"}'), 1);
  const frame = await watcher.waitFor(cookieIs(1, 1), 'a status frame with cookie 1 running, 1 queued');
  assert.deepEqual(Object.keys(frame.content as object).sort(), ['agents', 'total']);
  assert.equal(Object.keys(status.sessions).length, 1, '/status lists the running session');

  fake.holdRequests = false;
  fake.releaseAll();
  assert.equal((await a.waitFor(isFinal('platform-ws:a'), 'a reply')).content, 'cookie says: remember A');
  assert.equal((await b.waitFor(isFinal('platform-ws:b'), 'b reply')).content, 'cookie says: remember B');
  assert.equal(fake.maxInFlight('cookie'), 1);

  const after = await getJson<StatusReport>(`${url}/status`);
  assert.deepEqual([after.agents.cookie?.running, after.agents.cookie?.queued], [0, 0]);
  await watcher.waitFor(cookieIs(0, 0), 'a status frame with cookie idle again');
  const done = await (await fetch(`${url}/metrics`)).text();
  assert.equal(metric(done, 'brine_turns_started_total{agent="cookie"}'), 2);
  assert.equal(metric(done, 'brine_turns_finished_total{agent="cookie"}'), 2);
  assert.equal(metric(done, 'brine_agent_running{agent="cookie"}'), 0);
  assert.equal(metric(done, 'brine_agent_queued{agent="cookie"}'), 0);

  assert.deepEqual(watcher.conversation, [], 'the watcher only ever gets status frames');
  assert.doesNotMatch(JSON.stringify(watcher.frames), /platform-ws:/, 'status frames name no source');
  assert.ok(a.conversation.every((f) => f.source === 'platform-ws:a'));
  assert.ok(b.conversation.every((f) => f.source === 'platform-ws:b'));
});

test('bad frames get an error naming the field, and the connection stays usable', T, async (t) => {
  const fixture = await setup(t);
  const client = await connect(t, fixture);
  const cases: [string | object, RegExp][] = [
    ['not json', /not valid JSON/],
    [[1, 2], /must be a JSON object/],
    [{ source: 'x' }, /"content" is missing/],
    [{ source: 'x', content: 42 }, /"content" must be a non-empty string/],
    [{ content: 'hi' }, /"source" is missing/],
    [{ source: 5, content: 'hi' }, /"source" must be a string/],
    [{ source: 'has space', content: 'hi' }, /"source" must be 1-128 letters/],
    [{ source: 'x', content: 'hi', agent: 'nobody' }, /"agent": there is no agent "nobody"; agents: /],
    [{ type: 'shout', source: 'x' }, /"type" must be "message"/],
  ];
  for (const [frame, expected] of cases) {
    const before = client.frames.length;
    client.send(frame);
    const error = await client.waitFor((f) => client.frames.indexOf(f) >= before && f.type === 'error', `the error for ${JSON.stringify(frame)}`);
    assert.match(String(error.content), expected);
  }
  assert.equal(fixture.fake.totalRequests(), 0, 'no bad frame reached the model');

  client.send({ source: 'x', content: 'now properly', agent: 'cookie' });
  assert.equal((await client.waitFor(isType('reply', 'platform-ws:x'), 'the reply')).content, 'cookie says: now properly');
});

test('a reply for a disconnected client is delivered once it reconnects, exactly once', T, async (t) => {
  const fixture = await setup(t, { hold: true });
  const { fake, server, url } = fixture;
  const first = await WsTestClient.connect(url);
  first.send({ source: 'carol', content: 'are you there?' });
  await fake.waitForPending(1);
  await first.waitFor(isType('started', 'platform-ws:carol'), 'started');
  await first.close();

  fake.holdRequests = false;
  fake.releaseAll();
  // The reply is made, but nobody is listening: it waits in the outbox for the
  // client to come back, without counting as a failed attempt.
  await until(async () => (await server.outbox.pending()).length === 1 && server.delivery.pendingCount === 1, 'the reply waiting in the outbox');
  await server.delivery.idle();
  assert.equal((await server.outbox.pending())[0]?.attempts, 0, 'waiting for a receiver is not a failed attempt');
  assert.equal(metric(await server.metrics.text(), 'brine_delivery_failures_total{channel="web",permanent="false"}') ?? 0, 0);

  const again = await connect(t, fixture);
  again.send({ type: 'hello', source: 'carol' });
  const reply = await again.waitFor(isFinal('platform-ws:carol'), 'the waiting reply');
  assert.equal(reply.content, 'pickle says: are you there?');
  assert.equal(typeof reply.session_id, 'string');

  await server.delivery.idle();
  assert.equal(server.delivery.pendingCount, 0);
  assert.deepEqual(await server.outbox.pending(), []);
  await fake.settle(50);
  assert.equal(again.conversation.filter((f) => f.type === 'reply').length, 1, 'delivered exactly once');
  assert.equal(metric(await server.metrics.text(), 'brine_deliveries_total{channel="web"}'), 1);
});

test('with no model configured the server starts and a message gets an error naming OPENAI_API_KEY', T, async (t) => {
  const fixture = await setup(t, { model: false });
  assert.deepEqual(await getJson(`${fixture.url}/health`), { ok: true });
  const client = await connect(t, fixture);
  client.send({ source: 'dave', content: 'hello?' });
  const error = await client.waitFor(isFinal('platform-ws:dave'), 'the error');
  assert.equal(error.type, 'error');
  assert.match(String(error.content), /OPENAI_API_KEY/);
  assert.equal(fixture.fake.totalRequests(), 0);
});

test('WebSocket upgrades from another site or to another path are refused', T, async (t) => {
  const fixture = await setup(t);
  await assert.rejects(WsTestClient.connect(fixture.url, { origin: 'http://evil.example' }), /403/);
  await assert.rejects(WsTestClient.connect(fixture.url, { host: 'evil.example' }), /403/);
  const sameOrigin = await WsTestClient.connect(fixture.url, { origin: fixture.url });
  t.after(() => sameOrigin.close());
  await sameOrigin.waitFor((f) => f.type === 'status', 'the status frame a new client gets');
  const wrongPath = new WebSocket(`${fixture.url.replace(/^http/, 'ws')}/other`);
  await assert.rejects(new Promise((resolve, reject) => (wrongPath.once('open', resolve), wrongPath.once('error', reject))), /404/);
});
