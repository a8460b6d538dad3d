import { TurnLimitError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ChatMessage, LlmProvider, LlmRequest, LlmResponse } from '../llm/types.js';
import { resolveLlmSettings, type LlmEnv } from '../llm/settings.js';
import type { HistoryEntry, SessionInfo, SessionStore } from '../sessions/types.js';
import type { Tool, ToolContext } from '../tools/types.js';
import type { Dispatcher } from '../tools/dispatch-tool.js';
import type { AgentDef } from '../workspace/definitions.js';
import type { WorkspaceSnapshot } from '../workspace/workspace.js';
import { buildSystemPrompt } from './prompt.js';
import { historyToMessages, truncateToolResult } from './history.js';
import { compactSession, contextUsage, truncateOldToolResults } from './context-guard.js';
import { runToolCall } from './run-tool-call.js';
import { toolsForTurn } from './toolset.js';
import type { Admission } from '../concurrency/admission.js';

/** What a turn needs from the process. */
export interface TurnDeps {
  provider: LlmProvider;
  store: SessionStore;
  logger: Logger;
  env: LlmEnv;
  now: () => Date;
}

/** One user message for one agent in one session. */
export interface TurnRequest {
  snapshot: WorkspaceSnapshot;
  agent: AgentDef;
  session: SessionInfo;
  content: string;
  dispatcher: Dispatcher;
  /** Cancels the turn (shutdown); the turn's own time cap is added to it. */
  signal?: AbortSignal;
  /** Agents that dispatched to this one, outermost first. */
  chain?: readonly string[];
  extraTools?: readonly Tool[];
  /** The permits this turn holds; its dispatches are admitted as its children. */
  admission?: Admission;
}

/** The outcome of a turn. */
export interface TurnResult {
  reply: string;
  /** The session the turn ended in (a new one if the context guard compacted). */
  session: SessionInfo;
  toolRounds: number;
  compacted: boolean;
}

const ROUNDS_EXHAUSTED = (n: number) =>
  `You have used the maximum of ${n} tool rounds for this turn (turn.max_tool_rounds). Answer the user now with what you have; do not call tools.`;

/**
 * Runs one agent turn: system prompt from the layers + history + the new
 * message, then model -> tool calls (run concurrently) -> model, until the
 * model answers without tools. Capped by `turn.max_tool_rounds` (then one last
 * call without tools) and `turn.timeout_s`. Everything the turn produced is
 * appended to the session's history, also when it fails part-way.
 */
export async function runTurn(deps: TurnDeps, request: TurnRequest): Promise<TurnResult> {
  const { snapshot, agent } = request;
  const { config } = snapshot;
  const chain = request.chain ?? [];
  const settings = resolveLlmSettings(config, agent, deps.env);
  const timeout = AbortSignal.timeout(config.turn.timeout_s * 1000);
  const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
  const prompt = (session: SessionInfo) =>
    buildSystemPrompt(snapshot, agent, { source: session.source, sessionId: session.id, now: deps.now(), dispatchChain: chain });

  let session = request.session;
  let entries = await deps.store.load(session.id);
  const userEntry: HistoryEntry = { role: 'user', content: request.content, ts: deps.now().toISOString() };

  // Context guard: first shorten old tool results, then summarize into a fresh session.
  let compacted = false;
  let usage = contextUsage(config, prompt(session), [...entries, userEntry]);
  if (usage.tokens > usage.threshold) {
    entries = truncateOldToolResults(entries, config.context.keep_recent_messages);
    usage = contextUsage(config, prompt(session), [...entries, userEntry]);
    if (usage.tokens > usage.threshold) {
      const result = await withTurnTimeout(timeout, config.turn.timeout_s, () =>
        compactSession({ provider: deps.provider, store: deps.store, settings, session, entries, keepRecent: config.context.keep_recent_messages, signal, now: deps.now() }),
      );
      if (result) {
        deps.logger.info({ agent: agent.id, from: session.id, to: result.session.id, summarized: result.summarized }, 'context guard compacted the session');
        session = result.session;
        entries = await deps.store.load(session.id);
        compacted = true;
      }
    }
  }

  await deps.store.append(session.id, [userEntry]);
  const { offered, callable: toolMap } = toolsForTurn({ snapshot, agent, source: session.source, sessionId: session.id, chain, dispatcher: request.dispatcher, ...(request.admission && { admission: request.admission }), ...(request.extraTools && { extra: request.extraTools }) });
  const specs = offered.map(({ name, description, parameters }) => ({ name, description, parameters }));
  const toolContext: ToolContext = { workspace: snapshot.root, config, source: session.source, agentId: agent.id, sessionId: session.id, signal, logger: deps.logger };
  const messages: ChatMessage[] = [{ role: 'system', content: prompt(session) }, ...historyToMessages(entries), userEntry];
  const produced: HistoryEntry[] = [];
  const record = (message: ChatMessage) => {
    messages.push(message);
    produced.push({ ...message, ts: deps.now().toISOString() });
  };

  const maxRounds = config.turn.max_tool_rounds;
  let rounds = 0;
  try {
    for (;;) {
      const exhausted = rounds >= maxRounds;
      const call: LlmRequest = exhausted
        ? { settings, messages: [...messages, { role: 'system', content: ROUNDS_EXHAUSTED(maxRounds) }], signal }
        : { settings, messages, tools: specs, signal };
      const response: LlmResponse = await withTurnTimeout(timeout, config.turn.timeout_s, () => deps.provider.complete(call));
      if (response.toolCalls.length === 0 || exhausted) {
        const reply = response.content?.trim() || '(the model returned an empty answer)';
        record({ role: 'assistant', content: reply });
        return { reply, session, toolRounds: rounds, compacted };
      }
      rounds += 1;
      record({ role: 'assistant', content: response.content, tool_calls: response.toolCalls });
      const results = await Promise.all(response.toolCalls.map((c) => runToolCall(c, toolMap, toolContext)));
      response.toolCalls.forEach((c, i) => {
        record({ role: 'tool', tool_call_id: c.id, content: truncateToolResult(results[i]!.content, config.context.max_tool_result_chars) });
      });
    }
  } finally {
    await deps.store.append(session.id, produced);
  }
}

/** Runs `fn`, turning an abort caused by the turn's own timer into a clear {@link TurnLimitError}. */
async function withTurnTimeout<T>(timeout: AbortSignal, seconds: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (timeout.aborted) {
      throw new TurnLimitError('turn_timeout', `The turn took longer than turn.timeout_s (${seconds} s) and was stopped.`, { cause: err });
    }
    throw err;
  }
}
