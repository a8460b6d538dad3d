// Concurrency end to end through the real clients (DESIGN.md section 4): one
// server runs the real discord.js and Bolt channels against the local fake
// Discord and fake Slack. A Discord mention and a Slack mention for Cookie
// (max_concurrency 1) arrive at once: the second sender sees the hourglass,
// both are answered in order, and the fake LLM never sees two Cookie requests
// at once; meanwhile Pickle (max_concurrency 4) serves four others in parallel.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { BrineServer } from '../src/server/brine-server.js';
import { silentLogger } from '../src/logger.js';
import { createDiscordChannel } from '../adapters/discord/index.js';
import { createSlackChannel } from '../adapters/slack/index.js';
import { startFakeLlm } from './fakes/fake-llm.js';
import { startFakeDiscord, snowflake, type FakeUser } from './fakes/fake-discord.js';
import { startFakeSlack } from './fakes/fake-slack.js';
import { SlackEventsDriver, appMention, eventCallback, messageEvent, nextTs } from './fakes/fake-slack-events.js';
import { agentMd, makeWorkspace } from './helpers/workspace.js';
import { agentOf } from './helpers/harness.js';

const HOURGLASS_DISCORD = '⏳';
const HOURGLASS_SLACK = 'hourglass_flowing_sand';
const SIGNING_SECRET = 'e2e-signing-secret';

async function start(t: TestContext) {
  const llm = await startFakeLlm({ classify: agentOf, handler: (req) => ({ content: `${agentOf(req)} says: ${req.lastUserMessage}` }) });
  const discord = await startFakeDiscord();
  const slack = await startFakeSlack({ botToken: 'xoxb-e2e', appToken: 'xapp-e2e' });
  const ws = await makeWorkspace({
    'agents/pickle/AGENT.md': agentMd('name: Pickle\nmax_concurrency: 4\nallow_skills: true', 'You are Pickle.'),
    'config.user.yaml': [
      'routing:',
      '  bindings:',
      `    - { agent: cookie, value: "platform-discord:.*:${discord.cookie.id}" }`,
      '    - { agent: cookie, value: "platform-slack:.*:C0COOKIE:.*" }',
      'channels:',
      '  discord: { enabled: true }',
      '  slack: { enabled: true, mode: http }',
      '',
    ].join('\n'),
  });
  const server = await BrineServer.start({
    workspace: ws.dir,
    env: { OPENAI_BASE_URL: llm.baseURL },
    watch: false,
    logger: silentLogger(),
    drainTimeoutMs: 2_000,
    adapters: (s) => [
      createDiscordChannel({ token: 'test-token', apiUrl: discord.apiUrl, settings: () => s.runtime.snapshot().config.channels.discord }),
      createSlackChannel({
        botToken: 'xoxb-e2e',
        mode: 'http',
        signingSecret: SIGNING_SECRET,
        port: 0,
        host: '127.0.0.1',
        apiUrl: slack.apiUrl,
        settings: () => s.runtime.snapshot().config.channels.slack,
      }),
    ],
  });
  const slackUrl = (server.adapters.find((a) => a.name === 'slack') as { url?: string } | undefined)?.url;
  assert.ok(slackUrl, 'the Slack channel is listening');
  t.after(async () => {
    llm.holdRequests = false;
    llm.releaseAll();
    await server.stop();
    await discord.close();
    await slack.close();
    await llm.close();
    await ws.cleanup();
  });
  return { llm, discord, slack, server, events: new SlackEventsDriver(slackUrl, SIGNING_SECRET) };
}

test('Discord and Slack mention Cookie at once: one runs, the other sees the hourglass; Pickle serves four in parallel', { timeout: 30_000 }, async (t) => {
  const { llm, discord, slack, server, events } = await start(t);
  llm.holdRequests = true;

  // Discord first, then Slack, both for Cookie.
  const fromDiscord = discord.mention(discord.alice, 'remember the blue door', discord.cookie);
  await llm.waitForPending(1, 10_000, 'cookie');
  const slackTs = nextTs();
  const ack = await events.post(eventCallback(appMention({ user: 'U0BOB', channel: 'C0COOKIE', text: '<@UBOT> remember the red door', ts: slackTs })));
  assert.equal(ack.status, 200, 'Slack got its ack while Cookie is still busy');
  await slack.waitFor(() => slack.reactions.some((r) => r.action === 'add' && r.timestamp === slackTs && r.name === HOURGLASS_SLACK), 'the Slack hourglass', 10_000);
  assert.deepEqual(discord.reactions(fromDiscord.id), [], 'the running Discord message gets no hourglass');

  // Meanwhile four others talk to Pickle: two Discord DMs, two Slack DMs.
  const carol: FakeUser = { id: snowflake(), username: 'carol' };
  const dave: FakeUser = { id: snowflake(), username: 'dave' };
  const dms = [discord.dm(carol, 'hi from carol'), discord.dm(dave, 'hi from dave')];
  const slackDms = ['D0ERIN', 'D0FRANK'].map((channel, i) => ({ channel, ts: nextTs(), user: i === 0 ? 'U0ERIN' : 'U0FRANK' }));
  for (const dm of slackDms) {
    await events.post(eventCallback(messageEvent({ user: dm.user, channel: dm.channel, text: `hi from ${dm.user}`, ts: dm.ts, channel_type: 'im' })));
  }
  await llm.waitForPending(4, 10_000, 'pickle');
  assert.equal(llm.inFlight('pickle'), 4, 'Pickle runs four turns at once');
  assert.equal(llm.inFlight('cookie'), 1, 'Cookie still runs one');
  assert.deepEqual(
    { cookie: server.status().agents.cookie, pickle: server.status().agents.pickle },
    { cookie: { limit: 1, running: 1, queued: 1, oldest_wait_s: server.status().agents.cookie?.oldest_wait_s }, pickle: { limit: 4, running: 4, queued: 0, oldest_wait_s: 0 } },
  );

  // Cookie's first turn ends: the Slack turn starts and its hourglass goes.
  llm.releaseNext('cookie');
  await slack.waitFor(() => slack.reactions.some((r) => r.action === 'remove' && r.timestamp === slackTs), 'the Slack hourglass removed', 10_000);
  await llm.waitForPending(1, 10_000, 'cookie');
  llm.holdRequests = false;
  llm.releaseAll();

  const discordReply = await discord.waitForCall((c) => c.method === 'POST' && c.path === `/channels/${discord.cookie.id}/messages`, 'the Discord reply', 10_000);
  assert.equal(discordReply.body.content, 'cookie says: remember the blue door');
  assert.equal(discordReply.body.message_reference?.message_id, fromDiscord.id, 'a reply to the mention');
  await slack.waitFor(() => slack.postsIn('C0COOKIE', slackTs).length === 1, 'the Slack reply in the thread', 10_000);
  assert.equal(slack.postsIn('C0COOKIE', slackTs)[0]?.text, 'cookie says: remember the red door');
  const cookieOrder = llm.requestsFor('cookie').map((r) => r.body.messages.at(-1)?.content);
  assert.deepEqual(cookieOrder, ['remember the blue door', 'remember the red door'], 'answered in arrival order');
  assert.equal(llm.maxInFlight('cookie'), 1, 'never two Cookie requests at once');
  assert.equal(llm.maxInFlight('pickle'), 4);

  for (const dm of dms) await discord.waitForCall((c) => c.method === 'POST' && c.path === `/channels/${dm.channel_id}/messages`, 'a Pickle DM reply', 10_000);
  for (const dm of slackDms) await slack.waitFor(() => slack.postsIn(dm.channel, dm.ts).length === 1, 'a Pickle Slack DM reply', 10_000);
  await server.delivery.idle();
  assert.deepEqual(server.status().total, { limit: 16, running: 0, queued: 0 });
});
