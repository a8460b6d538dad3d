import type { ChatMessage } from '../llm/types.js';
import type { HistoryEntry } from '../sessions/types.js';

/**
 * Turns stored history into messages the API accepts. A turn cut short by a
 * crash or an error can leave an assistant tool call without all of its
 * results; the API rejects that, so such a call and any orphan tool result
 * are dropped (the plain text of the conversation is kept).
 */
export function historyToMessages(entries: readonly HistoryEntry[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    const message = stripMeta(entry);
    if (message.role === 'tool') continue; // consumed with their assistant message below
    if (message.role === 'assistant' && message.tool_calls && message.tool_calls.length > 0) {
      const results: ChatMessage[] = [];
      let j = i + 1;
      while (j < entries.length && entries[j]!.role === 'tool') results.push(stripMeta(entries[j]!)), j++;
      const answered = new Set(results.map((r) => (r.role === 'tool' ? r.tool_call_id : '')));
      if (message.tool_calls.every((call) => answered.has(call.id))) {
        out.push(message, ...results);
      } else if (message.content) {
        out.push({ role: 'assistant', content: message.content });
      }
      i = j - 1;
      continue;
    }
    out.push(message);
  }
  return out;
}

function stripMeta(entry: HistoryEntry): ChatMessage {
  const { ts: _ts, kind: _kind, ...message } = entry;
  return message as ChatMessage;
}

/** Rough token estimate (about 4 characters per token plus per-message overhead); good enough for a guard. */
export function estimateTokens(messages: readonly ChatMessage[]): number {
  let chars = 0;
  for (const m of messages) {
    chars += 16 + (m.content?.length ?? 0);
    if (m.role === 'assistant' && m.tool_calls) for (const c of m.tool_calls) chars += c.name.length + c.arguments.length + 16;
  }
  return Math.ceil(chars / 4);
}

/** Shortens a tool result past `max` characters, saying how much was cut. */
export function truncateToolResult(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}\n[truncated: ${text.length - max} more characters]`;
}
