// Slash commands (DESIGN.md 3b), each sent through the bus exactly like an
// adapter would (ask()). They are answered without the LLM (the fake must see
// no request, except for /compact which summarizes with the model) and without
// waiting behind the agent's running turn.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { access, readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ask } from './helpers/workspace.js';
import { agentOf, lastUser, setupRuntime, type RuntimeHarness } from './helpers/harness.js';
import type { OutboundEvent } from '../src/events.js';

/** No test may hang: a broken admission path fails by timeout instead. */
const T = { timeout: 20_000 };

const CLI = 'platform-cli:alice';
const ALL_COMMANDS = ['help', 'agent', 'skills', 'crons', 'session', 'context', 'compact', 'clear', 'route', 'bindings', 'status'];

/** Fresh workspace + fake (answering `<agent> says: <message>`) + runtime; everything is closed after the test. */
function setup(t: TestContext, files: Record<string, string> = {}): Promise<RuntimeHarness> {
  return setupRuntime(t, files, { handler: (req) => ({ content: `${agentOf(req)} says: ${req.lastUserMessage}` }) });
}

/** Sends a slash command and asserts it was answered as a command (reply, or error if `expectError`). */
async function command(s: RuntimeHarness, text: string, source = CLI, expectError = false): Promise<OutboundEvent> {
  const before = s.fake.totalRequests();
  const { final, events } = await ask(s.runtime, source, text);
  assert.equal(final.type, expectError ? 'error' : 'reply', `${text} -> ${final.type}: ${final.content}`);
  assert.equal(final.command, true, `${text} should be answered as a command`);
  assert.deepEqual(
    events.map((e) => e.type),
    [final.type],
    `${text} should produce no queued/started events`,
  );
  await s.fake.settle();
  assert.equal(s.fake.totalRequests(), before, `${text} must not call the LLM`);
  return final;
}

/** Sends ordinary chat and asserts it was answered by the model. */
async function chat(s: RuntimeHarness, text: string, source = CLI): Promise<OutboundEvent> {
  const { final } = await ask(s.runtime, source, text);
  assert.equal(final.type, 'reply', `chat "${text}" -> ${final.type}: ${final.content}`);
  assert.notEqual(final.command, true);
  return final;
}

function sessionIdOf(content: string): string {
  const m = /^Session (\S+)$/m.exec(content);
  assert.ok(m, `no "Session <id>" line in:\n${content}`);
  return m[1]!;
}

test('/help lists all 11 commands without calling the LLM', T, async (t) => {
  const s = await setup(t);
  const reply = await command(s, '/help');
  for (const name of ALL_COMMANDS) assert.match(reply.content, new RegExp(`^\\s+/${name}\\b`, 'm'), `/help should list /${name}`);
  assert.equal(reply.content.split('\n').filter((l) => /^\s+\//.test(l)).length, 11, reply.content);
  assert.equal(s.fake.totalRequests(), 0);
});

test('/agent lists the agents, marks the current one, and switches to a new session', T, async (t) => {
  const s = await setup(t);
  // No session yet: both listed, none marked.
  let reply = await command(s, '/agent');
  assert.match(reply.content, /^ {2}pickle \(Pickle, max_concurrency 3\)/m);
  assert.match(reply.content, /^ {2}cookie \(Cookie, max_concurrency 1\)/m);
  assert.doesNotMatch(reply.content, /^\*/m);

  const firstId = sessionIdOf((await command(s, '/session')).content);
  reply = await command(s, '/agent');
  assert.match(reply.content, /^\* pickle \(/m);
  assert.match(reply.content, /^ {2}cookie \(/m);

  reply = await command(s, '/agent cookie');
  const m = /Now talking to Cookie in a new session \((\S+)\)/.exec(reply.content);
  assert.ok(m, reply.content);
  const cookieId = m[1]!;
  assert.notEqual(cookieId, firstId);

  const session = await command(s, '/session');
  assert.equal(sessionIdOf(session.content), cookieId);
  assert.match(session.content, /^\s+agent:\s+cookie$/m);
  reply = await command(s, '/agent');
  assert.match(reply.content, /^\* cookie \(/m);
  assert.match(reply.content, /^ {2}pickle \(/m);
  reply = await command(s, '/agent cookie');
  assert.match(reply.content, /Already talking to Cookie/);
  assert.equal(s.fake.totalRequests(), 0);

  const answer = await chat(s, 'hello there');
  assert.equal(s.fake.totalRequests(), 1);
  assert.equal(s.fake.requests[0]!.key, 'cookie');
  assert.equal(answer.agentId, 'cookie');
  assert.equal(answer.sessionId, cookieId);
  assert.equal(answer.content, 'cookie says: hello there');
});

test('/agent with an unknown id is an error naming the agents', T, async (t) => {
  const s = await setup(t);
  const reply = await command(s, '/agent nobody', CLI, true);
  assert.match(reply.content, /"nobody"/);
  assert.match(reply.content, /pickle/);
  assert.match(reply.content, /cookie/);
  assert.equal(await s.runtime.sessions.current(CLI), null, 'a failed /agent must not create a session');
});

test('/skills lists the skills and shows one body', T, async (t) => {
  const s = await setup(t);
  let reply = await command(s, '/skills');
  assert.match(reply.content, /^\s+skill-creator: How to write a new skill/m);
  assert.match(reply.content, /^\s+cron-ops: Create, list and delete scheduled jobs/m);

  reply = await command(s, '/skills cron-ops');
  const file = await readFile(join(s.dir, 'skills', 'cron-ops', 'SKILL.md'), 'utf8');
  const body = file.replace(/^---\n[\s\S]*?\n---\n/, '').trim();
  assert.ok(body.length > 200);
  assert.ok(reply.content.includes(body), `expected the SKILL.md body in:\n${reply.content.slice(0, 300)}`);
  assert.doesNotMatch(reply.content, /^name: cron-ops$/m, 'the frontmatter is not part of the body');

  reply = await command(s, '/skills nope', CLI, true);
  assert.match(reply.content, /"nope"/);
  assert.match(reply.content, /cron-ops/);
});

const CRON_MD = `---
name: Water reminder
description: Reminds the user to drink water.
agent: pickle
schedule: "0 15 * * 1-5"
---
Remind the user to drink a glass of water.
`;

test('/crons with no jobs, then with one CRON.md (at start and after a reload)', T, async (t) => {
  const s = await setup(t);
  let reply = await command(s, '/crons');
  assert.match(reply.content, /^No cron jobs/);

  await mkdir(join(s.dir, 'crons', 'water'), { recursive: true });
  await writeFile(join(s.dir, 'crons', 'water', 'CRON.md'), CRON_MD);
  assert.deepEqual(await s.runtime.reload(), []);
  reply = await command(s, '/crons');
  assert.match(reply.content, /^\s+water: "0 15 \* \* 1-5" -> pickle\s+Reminds the user to drink water\./m);

  const s2 = await setup(t, { 'crons/water/CRON.md': CRON_MD });
  reply = await command(s2, '/crons');
  assert.match(reply.content, /^\s+water: "0 15 \* \* 1-5" -> pickle/m);
  reply = await command(s2, '/crons water');
  assert.match(reply.content, /Water reminder/);
  assert.match(reply.content, /Remind the user to drink a glass of water\./);
  reply = await command(s2, '/crons nope', CLI, true);
  assert.match(reply.content, /"nope"/);
});

test('/session shows id, source, agent and message count', T, async (t) => {
  const s = await setup(t);
  let reply = await command(s, '/session');
  const id = sessionIdOf(reply.content);
  assert.equal((await s.runtime.sessions.current(CLI))?.id, id);
  assert.match(reply.content, /^\s+source:\s+platform-cli:alice$/m);
  assert.match(reply.content, /^\s+agent:\s+pickle$/m);
  assert.match(reply.content, /^\s+messages:\s+0$/m);

  await chat(s, 'one question');
  reply = await command(s, '/session');
  assert.equal(sessionIdOf(reply.content), id);
  assert.match(reply.content, /^\s+messages:\s+2$/m);
  assert.equal(s.fake.totalRequests(), 1);
});

test('/context shows a token estimate that grows with the conversation', T, async (t) => {
  const s = await setup(t);
  const tokens = async () => {
    const reply = await command(s, '/context');
    const m = /Context: about (\d+) of (\d+) tokens/.exec(reply.content);
    assert.ok(m, reply.content);
    assert.equal(Number(m[2]), 32000);
    return Number(m[1]);
  };
  const before = await tokens();
  assert.ok(before > 100, `the system prompt alone is well over 100 tokens, got ${before}`);
  await chat(s, 'x'.repeat(4000));
  const after = await tokens();
  assert.ok(after - before >= 1000, `4000 characters more should add about 1000 tokens: ${before} -> ${after}`);
});

test('/clear starts a new session and the next LLM request has no earlier history', T, async (t) => {
  const s = await setup(t);
  await chat(s, 'remember the word PAPAYA');
  await chat(s, 'still there?');
  // Control: history is normally sent.
  assert.match(JSON.stringify(s.fake.requests[1]!.body.messages), /PAPAYA/);
  const oldId = (await s.runtime.sessions.current(CLI))!.id;

  const reply = await command(s, '/clear');
  const m = /Started a new session \((\S+)\) with pickle/.exec(reply.content);
  assert.ok(m, reply.content);
  assert.notEqual(m[1], oldId);
  assert.equal((await s.runtime.sessions.current(CLI))?.id, m[1]);

  await chat(s, 'what was the word?');
  const last = s.fake.requests[2]!;
  assert.deepEqual(
    last.body.messages.map((msg) => msg.role),
    ['system', 'user'],
  );
  assert.doesNotMatch(JSON.stringify(last.body.messages), /PAPAYA/);
});

test('/route writes config.runtime.yaml, /bindings lists it, new sessions follow it and old ones keep their agent', T, async (t) => {
  const s = await setup(t);
  const OLD = 'platform-slack:U0:C0:0.1';
  const NEW = 'platform-slack:U1:C1:1.0';
  await chat(s, 'hi from an old thread', OLD);
  assert.equal(s.fake.requests[0]!.key, 'pickle');
  assert.match((await command(s, '/bindings')).content, /no bindings/);

  const reply = await command(s, '/route platform-slack:.* cookie');
  assert.match(reply.content, /Added binding platform-slack:\.\* -> cookie/);
  const text = await readFile(join(s.dir, 'config.runtime.yaml'), 'utf8');
  assert.deepEqual(parseYaml(text), { routing: { bindings: [{ agent: 'cookie', value: 'platform-slack:.*' }] } });

  const bindings = await command(s, '/bindings');
  assert.match(bindings.content, /^\s+1\. platform-slack:\.\* -> cookie$/m);
  assert.equal(s.fake.totalRequests(), 1);

  const fresh = await chat(s, 'hello from a new thread', NEW);
  assert.equal(fresh.agentId, 'cookie');
  assert.equal(s.fake.requests[1]!.key, 'cookie');
  assert.equal(lastUser(s.fake.requests[1]), 'hello from a new thread');

  const old = await chat(s, 'and again', OLD);
  assert.equal(old.agentId, 'pickle');
  assert.equal(s.fake.requests[2]!.key, 'pickle');

  // The CLI source does not match the binding: still the default agent.
  await chat(s, 'from the terminal');
  assert.equal(s.fake.requests[3]!.key, 'pickle');
});

test('/route with a bad regex, an unknown agent or bad usage is an error and writes nothing', T, async (t) => {
  const s = await setup(t);
  const runtimeFile = join(s.dir, 'config.runtime.yaml');
  const cases: [string, RegExp[]][] = [
    ['/route platform-slack:( cookie', [/not a valid regular expression/, /platform-slack:\(/]],
    ['/route platform-slack:.* nobody', [/"nobody"/, /pickle/, /cookie/]],
    ['/route onlyone', [/Usage: \/route <regex> <agent>/]],
    ['/route', [/Usage: \/route <regex> <agent>/]],
  ];
  for (const [text, patterns] of cases) {
    const reply = await command(s, text, CLI, true);
    for (const re of patterns) assert.match(reply.content, re, `${text}: ${reply.content}`);
    await assert.rejects(access(runtimeFile), { code: 'ENOENT' }, `${text} must not write config.runtime.yaml`);
  }
  assert.match((await command(s, '/bindings')).content, /no bindings/);
  assert.equal(s.fake.totalRequests(), 0);
});

test('/status shows limit, running and queued per agent', T, async (t) => {
  const s = await setup(t);
  const reply = await command(s, '/status');
  assert.match(reply.content, /^\s+pickle\s+limit 3\s+running 0\s+queued 0$/m);
  assert.match(reply.content, /^\s+cookie\s+limit 1\s+running 0\s+queued 0$/m);
});

test('an unknown /frobnicate goes to the LLM as ordinary chat', T, async (t) => {
  const s = await setup(t);
  const { final } = await ask(s.runtime, CLI, '/frobnicate x');
  assert.equal(final.type, 'reply');
  assert.notEqual(final.command, true);
  assert.equal(s.fake.totalRequests(), 1);
  assert.equal(lastUser(s.fake.requests[0]), '/frobnicate x');
  assert.equal(final.content, 'pickle says: /frobnicate x');
});

test('/compact summarizes older turns with the model into a new session', T, async (t) => {
  const s = await setup(t);
  let reply = await command(s, '/compact'); // asserts no LLM call
  assert.match(reply.content, /Nothing to compact yet/);

  for (const text of ['m1 the cat is Miso', 'm2', 'm3', 'm4']) await chat(s, text);
  const oldId = (await s.runtime.sessions.current(CLI))!.id;
  assert.equal(s.fake.totalRequests(), 4);

  const { final } = await ask(s.runtime, CLI, '/compact');
  assert.equal(final.type, 'reply', final.content);
  assert.equal(final.command, true);
  assert.equal(s.fake.totalRequests(), 5, 'exactly one summary request');
  const summaryReq = s.fake.requests[4]!;
  assert.equal(summaryReq.key, 'other', 'the summary request is not an agent turn');
  assert.match(lastUser(summaryReq), /m1 the cat is Miso/);
  const m = /Compacted (\d+) older messages into a summary; continuing in session (\S+)\./.exec(final.content);
  assert.ok(m, final.content);
  assert.ok(Number(m[1]) >= 2);
  assert.notEqual(m[2], oldId);

  reply = await command(s, '/session');
  assert.equal(sessionIdOf(reply.content), m[2]);
  assert.match(reply.content, new RegExp(`continues: ${oldId} \\(compacted\\)`));

  await chat(s, 'what is the cat called?');
  assert.match(JSON.stringify(s.fake.requests[5]!.body.messages), /Summary of the earlier conversation/);
});

test('a slash command is answered at once while the agent is busy with this source', T, async (t) => {
  const s = await setup(t);
  const release = s.fake.gate();
  let turnDone = false;
  const turn = ask(s.runtime, CLI, 'a slow question', { agentId: 'cookie' }).then((r) => {
    turnDone = true;
    return r;
  });
  await s.fake.waitForPending(1, 5000, 'cookie');

  const { final } = await ask(s.runtime, CLI, '/status');
  assert.equal(final.type, 'reply');
  assert.equal(final.command, true);
  assert.match(final.content, /^\s+cookie\s+limit 1\s+running 1\s+queued 0$/m);
  assert.match(final.content, /^\s+pickle\s+limit 3\s+running 0\s+queued 0$/m);
  assert.equal(s.fake.pending('cookie'), 1, 'the turn is still parked');
  assert.equal(turnDone, false);

  // /session from the same source is answered too, and sees the busy session.
  const session = await ask(s.runtime, CLI, '/session');
  assert.match(session.final.content, /^\s+agent:\s+cookie$/m);
  assert.equal(s.fake.totalRequests(), 1);

  release();
  const answered = await turn;
  assert.equal(answered.final.type, 'reply');
  assert.equal(answered.final.content, 'cookie says: a slow question');
});

test(
  '/route while the config cannot be reloaded is an error and leaves config.runtime.yaml untouched',
  {
    ...T,
  },
  async (t) => {
    const s = await setup(t);
    const runtimeFile = join(s.dir, 'config.runtime.yaml');
    // The user breaks config.user.yaml while the bot runs (not reloaded yet).
    await writeFile(join(s.dir, 'config.user.yaml'), 'llm:\n  temperature: 9\n');
    const reply = await command(s, '/route platform-slack:.* cookie', CLI, true);
    assert.match(reply.content, /config\.user\.yaml/);
    await assert.rejects(access(runtimeFile), { code: 'ENOENT' }, 'a /route that reported an error must not have written the binding');
  },
);

test(
  'a command racing the first message of a new source uses the same session as the turn',
  {
    ...T,
  },
  async (t) => {
    const s = await setup(t);
    await s.runtime.sessionFor('platform-cli:someone-else'); // the session index is loaded (as in any running bot)
    const NEW = 'platform-cli:newcomer';
    const [turn, info] = await Promise.all([ask(s.runtime, NEW, 'hello'), ask(s.runtime, NEW, '/session')]);
    assert.equal(turn.final.type, 'reply');
    assert.equal(info.final.type, 'reply');
    const current = (await s.runtime.sessions.current(NEW))?.id;
    assert.equal(turn.final.sessionId, current);
    assert.equal(sessionIdOf(info.final.content), current, 'one source, one session');
  },
);
