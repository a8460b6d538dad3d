import type { BrineConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';

/** A JSON Schema object describing a tool's arguments (sent to the model as-is). */
export type JsonSchema = Record<string, unknown>;

/** What a tool knows about the turn that called it. */
export interface ToolContext {
  /** Absolute, real path of the workspace root (symlinks resolved). */
  workspace: string;
  /** Config in force for this turn. */
  config: BrineConfig;
  /** Source string of the conversation, e.g. `platform-cli:alice`. */
  source: string;
  /** Id of the agent running the turn. */
  agentId: string;
  /** Session id of the turn. */
  sessionId: string;
  /** Aborted when the turn is cancelled or times out; long tools must honour it. */
  signal: AbortSignal;
  logger: Logger;
}

/**
 * One tool the model may call. `run` returns the text handed back to the model.
 * Throwing (ideally a {@link ToolError}) is fine: the turn turns it into an
 * error result for the model, never a crash.
 */
export interface Tool {
  /** Name the model calls, e.g. `read`. */
  name: string;
  /** One or two sentences for the model. */
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: JsonSchema;
  /** Runs the tool with already-parsed JSON arguments (unvalidated: check them). */
  run(args: Record<string, unknown>, ctx: ToolContext): Promise<string>;
}
