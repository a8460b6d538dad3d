import { z } from 'zod';

/**
 * The schema of `config.user.yaml` / `config.runtime.yaml` after merging, with
 * every default of DESIGN.md section 2. Objects are strict: an unknown key is
 * an error (usually a typo), never silently ignored.
 */

/** An integer with a lower bound, whose every failure reads "must be an integer >= N". */
export function intAtLeast(min: number) {
  const error = `must be an integer >= ${min}`;
  return z.number({ error }).int({ error }).min(min, { error });
}
const positiveInt = intAtLeast(1);
const nonNegativeInt = intAtLeast(0);

/** `llm` block; also the shape of an agent's per-agent `llm` override (all optional there). */
export const llmSchema = z
  .object({
    model: z.string().min(1).default('gpt-4o-mini'),
    base_url: z.string().url().nullable().default(null),
    temperature: z.number().min(0).max(2).default(0.7),
    max_tokens: positiveInt.default(2048),
    timeout_s: z.number().positive().default(120),
    max_retries: nonNegativeInt.max(10).default(2),
  })
  .strict();

/** Per-agent override: any subset of the model settings. */
export const llmOverrideSchema = z
  .object({
    model: z.string().min(1),
    base_url: z.string().url().nullable(),
    temperature: z.number().min(0).max(2),
    max_tokens: positiveInt,
  })
  .partial()
  .strict();

const bindingSchema = z
  .object({
    agent: z.string().min(1),
    value: z.string().min(1),
  })
  .strict();

const idList = z.array(z.union([z.string(), z.number()]).transform(String)).default([]);

const discordSchema = z
  .object({
    enabled: z.boolean().default(false),
    require_mention: z.boolean().default(true),
    allowed_user_ids: idList,
    allowed_channel_ids: idList,
    api_url: z.string().url().nullable().default(null),
  })
  .strict();

const slackSchema = z
  .object({
    enabled: z.boolean().default(false),
    mode: z.enum(['socket', 'http']).default('socket'),
    port: z.number().int().min(1).max(65535).default(3000),
    require_mention: z.boolean().default(true),
    allowed_user_ids: idList,
    allowed_channel_ids: idList,
    api_url: z.string().url().nullable().default(null),
  })
  .strict();

const websearchSchema = z
  .object({
    provider: z.enum(['searxng', 'brave']),
    base_url: z.string().url().nullable().default(null),
    max_results: positiveInt.max(20).default(5),
  })
  .strict();

/** The whole config. */
export const configSchema = z
  .object({
    llm: llmSchema.prefault({}),
    default_agent: z.string().min(1).default('pickle'),
    routing: z
      .object({ bindings: z.array(bindingSchema).default([]) })
      .strict()
      .prefault({}),
    concurrency: z
      .object({
        max_total: positiveInt.default(16),
        per_source: nonNegativeInt.default(0),
        queue_limit: positiveInt.default(100),
        queue_timeout_s: z.number().positive().default(900),
        /** Brine addition: longest wait of a subagent dispatch for its agent. */
        dispatch_timeout_s: z.number().positive().default(120),
      })
      .strict()
      .prefault({}),
    channels: z
      .object({
        discord: discordSchema.prefault({}),
        slack: slackSchema.prefault({}),
      })
      .strict()
      .prefault({}),
    tools: z
      .object({
        bash: z
          .object({
            allowed_sources: z.array(z.string()).default(['platform-cli:.*']),
            timeout_s: z.number().positive().default(60),
            max_output_chars: positiveInt.default(16_000),
          })
          .strict()
          .prefault({}),
        websearch: websearchSchema.nullable().default(null),
        webread_max_chars: positiveInt.default(20_000),
      })
      .strict()
      .prefault({}),
    /** Brine addition: safety caps of one agent turn. */
    turn: z
      .object({
        max_tool_rounds: positiveInt.default(10),
        timeout_s: z.number().positive().default(300),
        dispatch_max_depth: positiveInt.default(3),
      })
      .strict()
      .prefault({}),
    /** Brine addition: the context guard. */
    context: z
      .object({
        window_tokens: positiveInt.default(32_000),
        compact_ratio: z.number().gt(0).lt(1).default(0.75),
        keep_recent_messages: nonNegativeInt.default(6),
        max_tool_result_chars: positiveInt.default(8_000),
      })
      .strict()
      .prefault({}),
    default_delivery_source: z.string().min(1).nullable().default(null),
    api: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8787),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** The validated, defaulted config. */
export type BrineConfig = z.infer<typeof configSchema>;
/** Model settings after merging config and per-agent override. */
export type LlmSettings = z.infer<typeof llmSchema>;
/** A per-agent `llm` override. */
export type LlmOverride = z.infer<typeof llmOverrideSchema>;
/** One routing binding. */
export type Binding = z.infer<typeof bindingSchema>;
