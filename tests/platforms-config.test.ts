// Which platforms `brine serve` runs is decided by config plus environment:
// `channels.<platform>.enabled` and the platform's secrets. An enabled
// platform missing a secret is left out with one log line naming the
// variable; env endpoint overrides win over the config keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { BrineServer } from '../src/server/brine-server.js';
import { silentLogger } from '../src/logger.js';
import { platformChannels } from '../adapters/platforms.js';
import { makeWorkspace } from './helpers/workspace.js';

function capture() {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

test('enabled platforms need their secrets; missing ones are named and the platform is left out', { timeout: 20_000 }, async (t) => {
  const ws = await makeWorkspace({ 'config.user.yaml': 'channels:\n  discord: { enabled: true }\n  slack: { enabled: true, mode: socket }\n' });
  t.after(() => ws.cleanup());
  const server = await BrineServer.start({ workspace: ws.dir, env: {}, logger: silentLogger(), watch: false });
  t.after(() => server.stop());

  const none = capture();
  assert.deepEqual(await platformChannels(server, { DISCORD_BOT_TOKEN: '  ', SLACK_BOT_TOKEN: 'xoxb-1' }, none.logger), []);
  const messages = none.lines.map((l) => l.msg);
  assert.ok(messages.some((m) => /DISCORD_BOT_TOKEN is not set/.test(m)), messages.join('\n'));
  assert.ok(messages.some((m) => /mode socket\) but SLACK_APP_TOKEN is not set/.test(m)), messages.join('\n'));
  assert.ok(none.lines.every((l) => l.level === 50), 'one error line per platform left out');

  const both = capture();
  const channels = await platformChannels(server, { DISCORD_BOT_TOKEN: 'token', SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' }, both.logger);
  assert.deepEqual(channels.map((c) => c.name).sort(), ['discord', 'slack']);
  assert.deepEqual(both.lines, []);
  assert.ok(channels.find((c) => c.name === 'discord')?.owns('platform-discord:1:2'));
  assert.ok(channels.find((c) => c.name === 'slack')?.owns('platform-slack:U1:C1:1.0'));
});

test('nothing enabled: no platform channel, no log line', { timeout: 20_000 }, async (t) => {
  const ws = await makeWorkspace();
  t.after(() => ws.cleanup());
  const server = await BrineServer.start({ workspace: ws.dir, env: {}, logger: silentLogger(), watch: false });
  t.after(() => server.stop());
  const quiet = capture();
  assert.deepEqual(await platformChannels(server, { DISCORD_BOT_TOKEN: 'token' }, quiet.logger), []);
  assert.deepEqual(quiet.lines, []);
});
