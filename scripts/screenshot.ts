/**
 * Takes the README screenshot of the web chat: `npx tsx scripts/screenshot.ts [out.png]`
 * (default docs/web-chat.png). Starts a fake LLM and a server on a temp
 * workspace, opens two tabs that both talk to Cookie (max_concurrency 1)
 * while the model is held, so one turn runs and the other is queued, and
 * screenshots the queued tab. Everything is torn down afterwards.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { startLocalApi } from '../tests/helpers/local-api-server.js';
import { hasChromium, launchChromium, CHROMIUM_PATH } from '../tests/helpers/chromium.js';
import { agentOf } from '../tests/helpers/harness.js';
import type { FakeHandler } from '../tests/fakes/fake-llm.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Canned answers, so the picture shows a plausible conversation. */
const answers: FakeHandler = (req) => {
  if (agentOf(req) === 'cookie') return { content: 'Noted. I saved that to memories/topics/cats.md.' };
  return { content: 'Cookie does! Cookie keeps long-term memory. Pick Cookie above and tell it what to remember, or just ask me and I will pass it on.' };
};

async function openChat(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.locator('#send:not([disabled])').waitFor();
  await page.locator('#status tr[data-agent="cookie"]').waitFor();
}

async function say(page: Page, agent: string, text: string): Promise<void> {
  await page.locator('#agent').selectOption(agent);
  await page.locator('#input').fill(text);
  await page.locator('#input').press('Enter');
}

async function main(): Promise<void> {
  if (!hasChromium()) throw new Error(`Chromium not found at ${CHROMIUM_PATH}: apt-get install chromium`);
  const out = resolve(process.argv[2] ?? join(ROOT, 'docs', 'web-chat.png'));
  const fixture = await startLocalApi({ handler: answers });
  const browser = await launchChromium();
  try {
    // Two tabs of one browser: each claims its own client id, so they are two users.
    const context = await browser.newContext({ viewport: { width: 1180, height: 680 }, deviceScaleFactor: 1, colorScheme: 'light' });
    const first = await context.newPage();
    const second = await context.newPage();
    await openChat(first, fixture.url);
    await openChat(second, fixture.url);

    await say(second, '', 'Hi Pickle! Who keeps the memories here?');
    await second.locator('.msg.agent').waitFor();

    fixture.fake.holdRequests = true;
    await say(first, 'cookie', 'Please remember that my cat is called Miso.');
    await first.locator('.msg.pending.working').waitFor();
    await say(second, 'cookie', 'Remember that the Falcon demo is on Friday.');
    await second.locator('.msg.pending.queued').waitFor();
    await second.locator('#status tr.busy[data-agent="cookie"] td.running', { hasText: '1' }).waitFor();

    await mkdir(dirname(out), { recursive: true });
    await second.screenshot({ path: out });
    process.stdout.write(`wrote ${out}\n`);
  } finally {
    await fixture.stop();
    await browser.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
