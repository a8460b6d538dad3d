import type { LlmSettings } from '../config/schema.js';

/** One function call requested by the model. */
export interface ToolCall {
  id: string;
  name: string;
  /** Raw JSON text as the model produced it (may be malformed). */
  arguments: string;
}

/** A chat message in Brine's provider-neutral form (also the history format). */
export type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

/** A tool as offered to the model. */
export interface ToolSpec {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

/** One chat-completion request. */
export interface LlmRequest {
  settings: LlmSettings;
  messages: ChatMessage[];
  tools?: ToolSpec[];
  /** Cancels the HTTP request (turn timeout, shutdown). */
  signal?: AbortSignal;
}

/** The model's answer. */
export interface LlmResponse {
  content: string | null;
  toolCalls: ToolCall[];
  finishReason: string;
  usage?: { promptTokens: number; completionTokens: number };
}

/**
 * Anything that can complete a chat: the OpenAI-compatible provider in
 * production, a scripted one in unit tests.
 */
export interface LlmProvider {
  /** Throws an {@link LlmError} on failure. */
  complete(request: LlmRequest): Promise<LlmResponse>;
}
