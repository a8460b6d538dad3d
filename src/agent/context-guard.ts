import type { BrineConfig, LlmSettings } from '../config/schema.js';
import type { LlmProvider } from '../llm/types.js';
import type { HistoryEntry, SessionInfo, SessionStore } from '../sessions/types.js';
import { estimateTokens, historyToMessages, truncateToolResult } from './history.js';

/** Tool results in older turns are cut to this when the context runs full. */
const OLD_TOOL_RESULT_CHARS = 1_000;

const SUMMARY_INSTRUCTIONS =
  'Summarize the conversation below for your own future reference. Keep: who the user is, what they asked for, ' +
  'decisions made, facts learned, files touched, open tasks. Be concise (under 300 words). Write the summary only.';

/** Where a conversation stands against the context window. */
export interface ContextUsage {
  tokens: number;
  window: number;
  threshold: number;
}

/** Estimates the tokens a session's history will cost. */
export function contextUsage(config: BrineConfig, systemPrompt: string, entries: readonly HistoryEntry[]): ContextUsage {
  const tokens = estimateTokens([{ role: 'system', content: systemPrompt }, ...historyToMessages(entries)]);
  const window = config.context.window_tokens;
  return { tokens, window, threshold: Math.floor(window * config.context.compact_ratio) };
}

/** Index where the recent part starts: at a user message, so tool calls stay with their results. */
function recentStart(entries: readonly HistoryEntry[], keep: number): number {
  if (keep <= 0) return entries.length;
  let start = Math.max(0, entries.length - keep);
  while (start > 0 && entries[start]?.role !== 'user') start -= 1;
  return start;
}

/**
 * First remedy when the context runs full: shorten big tool results in all
 * but the recent turns. Returns the entries unchanged if nothing was cut.
 */
export function truncateOldToolResults(entries: HistoryEntry[], keepRecent: number): HistoryEntry[] {
  const start = recentStart(entries, keepRecent);
  return entries.map((entry, i) =>
    i < start && entry.role === 'tool' && entry.content.length > OLD_TOOL_RESULT_CHARS
      ? { ...entry, content: truncateToolResult(entry.content, OLD_TOOL_RESULT_CHARS) }
      : entry,
  );
}

/**
 * Second remedy (and `/compact`): summarize everything but the recent turns
 * with the model and continue in a fresh session seeded with the summary and
 * those turns. The old session's file is kept; the source now points at the
 * new session. Returns null when there is nothing old enough to summarize.
 */
export async function compactSession(options: {
  provider: LlmProvider;
  store: SessionStore;
  settings: LlmSettings;
  session: SessionInfo;
  entries: HistoryEntry[];
  keepRecent: number;
  signal?: AbortSignal;
  now: Date;
}): Promise<{ session: SessionInfo; summarized: number } | null> {
  const { entries } = options;
  const start = recentStart(entries, options.keepRecent);
  const old = entries.slice(0, start);
  if (old.length === 0) return null;
  const transcript = historyToMessages(old)
    .map((m) => `${m.role}: ${m.content ?? (m.role === 'assistant' ? `[called ${m.tool_calls?.map((c) => c.name).join(', ')}]` : '')}`)
    .join('\n');
  const response = await options.provider.complete({
    settings: options.settings,
    messages: [
      { role: 'system', content: SUMMARY_INSTRUCTIONS },
      { role: 'user', content: truncateToolResult(transcript, 60_000) },
    ],
    ...(options.signal && { signal: options.signal }),
  });
  const summary: HistoryEntry = {
    role: 'system',
    kind: 'summary',
    content: `Summary of the earlier conversation (session ${options.session.id}):\n${response.content ?? ''}`,
    ts: options.now.toISOString(),
  };
  const session = await options.store.create({
    source: options.session.source,
    agentId: options.session.agentId,
    previous: options.session.id,
    seed: [summary, ...entries.slice(start)],
    bind: options.session.parent === undefined,
    ...(options.session.parent && { parent: options.session.parent }),
  });
  return { session, summarized: old.length };
}
