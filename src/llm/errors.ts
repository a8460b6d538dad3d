import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  AuthenticationError,
  BadRequestError,
  PermissionDeniedError,
  RateLimitError,
} from 'openai';
import { LlmError } from '../errors.js';

const CONTEXT_HINT = /context.?length|maximum context|too many tokens|context window|prompt is too long/i;

/**
 * Maps an openai SDK error to an {@link LlmError} whose message tells the user
 * what to do. `where` names the endpoint (never the key).
 */
export function mapLlmError(err: unknown, where: { baseURL: string; model: string }): LlmError {
  if (err instanceof LlmError) return err;
  const context = { baseURL: where.baseURL, model: where.model };
  // Order matters: the abort and connection errors are APIError subclasses too.
  if (err instanceof APIUserAbortError) {
    return new LlmError('llm_aborted', 'The model request was cancelled.', { cause: err, context });
  }
  if (err instanceof APIConnectionTimeoutError) {
    return new LlmError('llm_timeout', `The model at ${where.baseURL} did not answer in time; raise llm.timeout_s or check the server.`, { cause: err, context });
  }
  if (err instanceof APIConnectionError) {
    return new LlmError('llm_unreachable', `Cannot reach the model at ${where.baseURL}: is the server running and is OPENAI_BASE_URL / llm.base_url right?`, { cause: err, context });
  }
  if (err instanceof RateLimitError) {
    const retryAfter = err.headers?.get('retry-after');
    const wait = retryAfter ? ` (the server asks to wait ${retryAfter} s)` : '';
    return new LlmError('llm_rate_limited', `The model provider is rate-limiting requests${wait}; try again shortly or lower the load.`, { cause: err, context });
  }
  if (err instanceof AuthenticationError || err instanceof PermissionDeniedError) {
    return new LlmError('llm_auth', `The model provider refused the API key (HTTP ${err.status}); check OPENAI_API_KEY.`, { cause: err, context });
  }
  if (err instanceof BadRequestError && (err.code === 'context_length_exceeded' || CONTEXT_HINT.test(err.message))) {
    return new LlmError('llm_context_too_long', 'The conversation is too long for the model; run /compact or /clear, or raise context.window_tokens only if the model allows it.', { cause: err, context });
  }
  if (err instanceof APIError) {
    return new LlmError('llm_failed', `The model request failed (HTTP ${err.status ?? '?'}): ${err.message}`, { cause: err, context });
  }
  if (err instanceof Error && err.name === 'AbortError') {
    return new LlmError('llm_aborted', 'The model request was cancelled.', { cause: err, context });
  }
  return new LlmError('llm_failed', `The model request failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err, context });
}
