// Discord replies across a restart: what was persisted before (a reply in the
// outbox, a message in the journal) reaches Discord once the channel is up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDiscordServer } from './fakes/fake-discord-harness.js';
import { FileOutbox } from '../src/durability/file-outbox.js';
import { FileInboundJournal } from '../src/durability/file-journal.js';
import { silentLogger } from '../src/logger.js';

const T = { timeout: 15_000 };

test('a reply left in the outbox by the previous run is sent once Discord is connected', T, async (t) => {
  let source = '';
  const f = await startDiscordServer(t, {
    beforeStart: async (dir, discord) => {
      source = `platform-discord:${discord.alice.id}:${discord.general.id}`;
      await new FileOutbox(dir, silentLogger()).put({ id: 'left-over', source, chunks: ['part one', 'part two'], sent: 1, kind: 'reply', attempts: 0, createdAt: new Date().toISOString() });
    },
  });
  const posted = await f.discord.waitForCall((c) => c.method === 'POST' && c.path === `/channels/${f.discord.general.id}/messages`, 'the left-over reply');
  assert.equal(posted.body.content, 'part two', 'resumes at the first unsent part');
});

test('a message journaled by the previous run is answered in Discord after the restart', T, async (t) => {
  let messageId = '';
  const f = await startDiscordServer(t, {
    beforeStart: async (dir, discord) => {
      messageId = '1150000000000000001';
      await new FileInboundJournal(dir, silentLogger()).add({
        id: `discord:${messageId}`,
        source: `platform-discord:${discord.alice.id}:${discord.general.id}`,
        content: 'asked before the crash',
        receivedAt: new Date().toISOString(),
        context: { channelId: discord.general.id, messageId },
      });
    },
  });
  const posted = await f.discord.waitForCall((c) => c.method === 'POST' && c.path === `/channels/${f.discord.general.id}/messages`, 'the answer');
  assert.equal(posted.body.content, 'pickle says: asked before the crash');
  assert.deepEqual(posted.body.message_reference, { message_id: messageId, fail_if_not_exists: false });
});

// A command is answered without the model, at once: BrineServer.#start republishes journaled
// messages before it has made its channels (`this.#adapters` is set after the journal loop), so the
// delivery worker finds no channel for the answer, drops it ("no enabled channel delivers to this
// source; reply dropped") and the journal entry is removed: the message is lost. Fix: make the
// adapters (not start them) before the journal loop.
test('a slash command journaled by the previous run is answered in Discord after the restart', { ...T }, async (t) => {
  const messageId = '1150000000000000002';
  const f = await startDiscordServer(t, {
    beforeStart: async (dir, discord) => {
      await new FileInboundJournal(dir, silentLogger()).add({
        id: `discord:${messageId}`,
        source: `platform-discord:${discord.alice.id}:${discord.general.id}`,
        content: '/help',
        receivedAt: new Date().toISOString(),
        context: { channelId: discord.general.id, messageId },
      });
    },
  });
  const posted = await f.discord.waitForCall((c) => c.method === 'POST' && c.path === `/channels/${f.discord.general.id}/messages`, 'the answer', 1500);
  assert.deepEqual(posted.body.message_reference, { message_id: messageId, fail_if_not_exists: false });
});
