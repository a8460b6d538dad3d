/**
 * Shared test harness: a temp workspace, the fake LLM and a runtime on them,
 * all torn down after the test; plus small helpers several test files need.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFakeLlm, messageText, type FakeHandler, type FakeLlm, type FakeRecordedRequest, type FakeRequest } from '../fakes/fake-llm.js';
import { ask, makeWorkspace, openRuntime } from './workspace.js';
import type { BrineRuntime, RuntimeOptions } from '../../src/runtime.js';
import type { OutboundEvent } from '../../src/events.js';
import type { SessionInfo } from '../../src/sessions/types.js';
import type { ToolContext } from '../../src/tools/types.js';
import { configSchema } from '../../src/config/schema.js';
import { silentLogger } from '../../src/logger.js';

/** The agent a request belongs to, from the runtime-facts line of its system prompt ('other' for e.g. a /compact summary). */
export function agentOf(req: FakeRequest): string {
  return /You are the agent "([^"]+)"/.exec(req.systemPrompt)?.[1] ?? 'other';
}

/** Text of the last user message of a recorded request. */
export function lastUser(req: FakeRecordedRequest | undefined): string {
  assert.ok(req, 'expected a recorded request');
  const users = req.body.messages.filter((m) => m.role === 'user');
  return messageText(users[users.length - 1]?.content);
}

/** Options of {@link setupHarness} / {@link setupRuntime}. */
export interface HarnessOptions {
  /** The fake's default handler (default: the fake's own, `{ content: 'ok' }`). */
  handler?: FakeHandler;
  /** The fake's in-flight key (default: {@link agentOf}). */
  classify?: (req: FakeRequest) => string;
  /** Extra options for every runtime opened. */
  runtime?: Partial<RuntimeOptions>;
}

/** A workspace and a fake LLM; runtimes on them are opened with `open()`. */
export interface Harness {
  dir: string;
  fake: FakeLlm;
  /** Opens a (further) runtime on the workspace and the fake; it is closed after the test. */
  open: () => Promise<BrineRuntime>;
}

/** A workspace, a fake LLM and one runtime on them. */
export interface RuntimeHarness {
  dir: string;
  fake: FakeLlm;
  runtime: BrineRuntime;
}

/**
 * Fresh workspace (default_workspace plus `files`) and fake LLM. After the
 * test: parked requests are released, the fake is closed first (so a request
 * still hanging on it fails fast and no close() can wait forever), then every
 * runtime opened with `open()` is closed, then the workspace is removed.
 */
export async function setupHarness(t: TestContext, files: Record<string, string> = {}, options: HarnessOptions = {}): Promise<Harness> {
  const ws = await makeWorkspace(files);
  let fake: FakeLlm | undefined;
  const runtimes: BrineRuntime[] = [];
  t.after(async () => {
    if (fake) {
      fake.holdRequests = false;
      fake.releaseAll();
      await fake.close();
    }
    for (const runtime of runtimes) await runtime.close();
    await ws.cleanup();
  });
  const started = await startFakeLlm({ classify: options.classify ?? agentOf, handler: options.handler });
  fake = started;
  return {
    dir: ws.dir,
    fake: started,
    open: async () => {
      const runtime = await openRuntime(ws.dir, started.baseURL, options.runtime);
      runtimes.push(runtime);
      return runtime;
    },
  };
}

/** {@link setupHarness} plus one runtime, opened at once. */
export async function setupRuntime(t: TestContext, files: Record<string, string> = {}, options: HarnessOptions = {}): Promise<RuntimeHarness> {
  const { dir, fake, open } = await setupHarness(t, files, options);
  return { dir, fake, runtime: await open() };
}

/** Sends `content` as `source` and asserts it was answered with a reply (not an error); returns the reply. */
export async function chat(runtime: BrineRuntime, source: string, content: string): Promise<OutboundEvent> {
  const { final } = await ask(runtime, source, content);
  assert.equal(final.type, 'reply', final.content);
  return final;
}

/** The session index, .history/index.json. */
export async function readIndex(dir: string): Promise<{ sources: Record<string, string>; sessions: Record<string, SessionInfo> }> {
  return JSON.parse(await readFile(join(dir, '.history', 'index.json'), 'utf8')) as { sources: Record<string, string>; sessions: Record<string, SessionInfo> };
}

/**
 * A ToolContext for calling a tool directly: `configInput` parsed by the
 * config schema, source `platform-cli:alice`, agent `pickle`, session `s1`, a
 * fresh (never aborted) signal and a silent logger, unless given in `extra`.
 */
export function toolContext(workspace: string, configInput: unknown = {}, extra: Partial<Pick<ToolContext, 'source' | 'agentId' | 'sessionId' | 'signal'>> = {}): ToolContext {
  return {
    workspace,
    config: configSchema.parse(configInput),
    source: extra.source ?? 'platform-cli:alice',
    agentId: extra.agentId ?? 'pickle',
    sessionId: extra.sessionId ?? 's1',
    signal: extra.signal ?? new AbortController().signal,
    logger: silentLogger(),
  };
}
