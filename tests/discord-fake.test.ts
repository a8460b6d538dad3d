// The fake Discord itself, spoken to directly (fetch and ws, no discord.js):
// the routes discord.js percent-encodes, auth, faults on demand, and the
// gateway handshake. If these break, the adapter tests would fail for the
// wrong reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { MESSAGE_CONTENT_INTENT, startFakeDiscord, type FakeDiscord } from './fakes/fake-discord.js';

const AUTH = { authorization: 'Bot test-token' };

async function fake(t: import('node:test').TestContext, options: Parameters<typeof startFakeDiscord>[0] = {}): Promise<FakeDiscord> {
  const started = await startFakeDiscord(options);
  t.after(() => started.close());
  return started;
}

test('REST: /users/%40me is decoded, a bad token gets 401, unknown routes 404, faults on demand', async (t) => {
  const discord = await fake(t);
  const me = await fetch(`${discord.apiUrl}/v10/users/%40me`, { headers: AUTH });
  assert.equal(me.status, 200);
  assert.equal(((await me.json()) as { id: string }).id, discord.bot.id);
  assert.equal(discord.calls[0]?.path, '/users/@me');

  assert.equal((await fetch(`${discord.apiUrl}/v10/users/%40me`, { headers: { authorization: 'Bot nope' } })).status, 401);
  assert.equal((await fetch(`${discord.apiUrl}/v10/nothing/here`, { headers: AUTH })).status, 404);
  const gateway = (await (await fetch(`${discord.apiUrl}/v10/gateway/bot`, { headers: AUTH })).json()) as { url: string };
  assert.equal(gateway.url, discord.gatewayUrl);

  discord.fail({ method: 'POST', path: /\/typing$/, status: 429, retryAfterS: 0.5 });
  const limited = await fetch(`${discord.apiUrl}/v10/channels/${discord.general.id}/typing`, { method: 'POST', headers: AUTH });
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get('retry-after'), '0.5');
  assert.equal((await fetch(`${discord.apiUrl}/v10/channels/${discord.general.id}/typing`, { method: 'POST', headers: AUTH })).status, 204, 'only once');

  const tooLong = await fetch(`${discord.apiUrl}/v10/channels/${discord.general.id}/messages`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json' },
    body: JSON.stringify({ content: 'x'.repeat(2001) }),
  });
  assert.equal(tooLong.status, 400, 'the fake enforces the 2000 limit like Discord');
  const unknown = await fetch(`${discord.apiUrl}/v10/channels/1/messages`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: '{"content":"hi"}' });
  assert.deepEqual([unknown.status, ((await unknown.json()) as { code: number }).code], [404, 10003]);
});

test('gateway: HELLO, IDENTIFY -> READY then GUILD_CREATE; 4014 without the Message Content intent', async (t) => {
  const discord = await fake(t, { messageContentIntent: false });
  const ws = new WebSocket(`${discord.gatewayUrl}?v=10&encoding=json`);
  t.after(() => ws.terminate());
  const hello = new Promise<{ op: number; d: { heartbeat_interval: number } }>((resolve) => ws.once('message', (data) => resolve(JSON.parse(String(data)))));
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  const first = await hello;
  assert.equal(first.op, 10);
  assert.equal(first.d.heartbeat_interval, 41_250);
  ws.send(JSON.stringify({ op: 2, d: { token: 'test-token', intents: 1 | MESSAGE_CONTENT_INTENT, properties: {} } }));
  assert.equal(await closed, 4014);

  discord.messageContentIntent = true;
  const ok = new WebSocket(discord.gatewayUrl);
  t.after(() => ok.terminate());
  const got: { op: number; t?: string; d?: any }[] = [];
  const twoDispatches = new Promise<void>((resolve) =>
    ok.on('message', (data) => {
      got.push(JSON.parse(String(data)));
      if (got.filter((f) => f.op === 0).length === 2) resolve();
    }),
  );
  await new Promise((resolve) => ok.once('open', resolve));
  ok.send(JSON.stringify({ op: 2, d: { token: 'test-token', intents: 1 | MESSAGE_CONTENT_INTENT, properties: {} } }));
  await twoDispatches;
  const [ready, guild] = got.filter((f) => f.op === 0);
  assert.equal(ready?.t, 'READY');
  assert.deepEqual(ready?.d.guilds, [{ id: discord.guild.id, unavailable: true }]);
  assert.equal(ready?.d.resume_gateway_url, `${discord.gatewayUrl}/resume`);
  assert.equal(guild?.t, 'GUILD_CREATE');
  assert.equal(guild?.d.channels.length, 2);
  assert.equal(guild?.d.threads.length, 1);
  assert.deepEqual(discord.identifies.length, 2);
});
