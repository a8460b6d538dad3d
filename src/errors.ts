/**
 * Brine's one error base class. Every failure Brine raises on purpose is a
 * {@link BrineError}: it carries a stable machine-readable `code`, a message a
 * user can act on, the underlying `cause` (if any) and a small `context` bag
 * (file, field, agent, source...) for logs. Modelled on grammY's BotError:
 * wrap the failure with where it happened, handle it in one place.
 */
export class BrineError extends Error {
  /** Stable identifier, e.g. `config_invalid`, `llm_rate_limited`. */
  readonly code: string;
  /** Extra facts about where the failure happened (never secrets). */
  readonly context: Readonly<Record<string, unknown>>;

  constructor(
    code: string,
    message: string,
    options: { cause?: unknown; context?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.context = options.context ?? {};
  }
}

/** One problem found in a config or workspace file. */
export interface ConfigProblem {
  /** Path relative to the workspace, e.g. `agents/cookie/AGENT.md`. */
  file: string;
  /** Dotted field path, e.g. `max_concurrency`; empty for whole-file problems. */
  field: string;
  /** What is wrong and how to fix it. */
  message: string;
}

/** Formats a problem the way every Brine message does: `file: field message`. */
export function formatProblem(p: ConfigProblem): string {
  return p.field ? `${p.file}: ${p.field} ${p.message}` : `${p.file}: ${p.message}`;
}

/** Invalid configuration or workspace content; lists every problem found. */
export class ConfigError extends BrineError {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: ConfigProblem[], options: { cause?: unknown } = {}) {
    super('config_invalid', problems.map(formatProblem).join('\n'), {
      ...options,
      context: { files: [...new Set(problems.map((p) => p.file))] },
    });
    this.problems = problems;
  }
}

/** Codes of {@link LlmError}. */
export type LlmErrorCode =
  | 'llm_not_configured'
  | 'llm_rate_limited'
  | 'llm_context_too_long'
  | 'llm_unreachable'
  | 'llm_auth'
  | 'llm_timeout'
  | 'llm_aborted'
  | 'llm_bad_response'
  | 'llm_failed';

/** A failure talking to the model, mapped from the SDK's error types. */
export class LlmError extends BrineError {
  declare readonly code: LlmErrorCode;
  constructor(code: LlmErrorCode, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(code, message, options);
  }
}

/** A tool refused or failed; its message is returned to the model as the tool result. */
export class ToolError extends BrineError {
  constructor(message: string, options: { cause?: unknown; context?: Record<string, unknown>; code?: string } = {}) {
    super(options.code ?? 'tool_failed', message, options);
  }
}

/** A turn hit a safety cap (tool rounds, wall time). */
export class TurnLimitError extends BrineError {}

/** Bad command-line usage (exit code 2). */
export class UsageError extends BrineError {
  constructor(message: string) {
    super('usage', message);
  }
}

/** Returns a one-line description of any thrown value, for logs and user notices. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
