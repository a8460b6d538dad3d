// The web chat page in headless Chromium (playwright-core, the system
// Chromium; skipped when it is not installed): it loads, shows both agents
// with their limits, chats with the fake LLM, and gives each tab its own
// client id that survives a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalApi } from './helpers/local-api-server.js';
import { hasChromium, launchChromium } from './helpers/chromium.js';

test('the web chat page chats, shows the agents status and keeps one client id per tab', { timeout: 20_000 }, async (t) => {
  if (!hasChromium()) {
    t.skip('Chromium not installed: apt-get install chromium');
    return;
  }
  const fixture = await startLocalApi();
  t.after(() => fixture.stop());
  const browser = await launchChromium();
  t.after(() => browser.close());
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('console', (msg) => void (msg.type() === 'error' && problems.push(msg.text())));

  await page.goto(fixture.url);
  await page.locator('#send:not([disabled])').waitFor();
  const cell = (agent: string, column: string) => page.locator(`#status tr[data-agent="${agent}"] td.${column}`);
  await cell('cookie', 'limit').filter({ hasText: '1' }).waitFor();
  await cell('pickle', 'limit').filter({ hasText: '3' }).waitFor();
  assert.deepEqual(await page.locator('#status tr[data-agent] .agent-name').allTextContents(), ['Cookie', 'Pickle']);
  assert.deepEqual(await page.locator('#agent option').allTextContents(), ['Routing decides', 'Cookie (cookie)', 'Pickle (pickle)']);

  await page.locator('#input').fill('hi from the browser');
  await page.locator('#input').press('Enter');
  const answer = page.locator('.msg.agent').filter({ hasText: 'pickle says: hi from the browser' });
  await answer.waitFor();
  assert.equal(await answer.locator('.who').textContent(), 'Pickle');
  assert.equal(await page.locator('.msg.user').textContent(), 'hi from the browser');
  assert.equal(await page.locator('.msg.pending').count(), 0, 'the placeholder was replaced by the reply');
  await cell('pickle', 'running').filter({ hasText: '0' }).waitFor();

  // A second tab is another client; a reload keeps the tab's id and its messages.
  const id = await page.locator('body').getAttribute('data-client-id');
  assert.match(id ?? '', /^web-[0-9a-f]{12}$/);
  const second = await context.newPage();
  await second.goto(fixture.url);
  await second.locator('#send:not([disabled])').waitFor();
  assert.notEqual(await second.locator('body').getAttribute('data-client-id'), id);
  await page.reload();
  await page.locator('#send:not([disabled])').waitFor();
  assert.equal(await page.locator('body').getAttribute('data-client-id'), id);
  await page.locator('.msg.agent').filter({ hasText: 'pickle says: hi from the browser' }).waitFor();

  assert.deepEqual(problems, [], 'no page errors');
});
