import type { BrineConfig, LlmSettings } from '../config/schema.js';
import type { AgentDef } from '../workspace/definitions.js';
import { LlmError } from '../errors.js';

/** Environment variables the LLM settings read. */
export interface LlmEnv {
  OPENAI_API_KEY?: string | undefined;
  OPENAI_BASE_URL?: string | undefined;
}

/**
 * The model settings for one agent: config `llm`, then `OPENAI_BASE_URL`
 * (an env var wins over the config key), then the agent's own `llm` override
 * (the most specific setting wins over both).
 */
export function resolveLlmSettings(config: BrineConfig, agent: AgentDef | undefined, env: LlmEnv): LlmSettings {
  const envBase = env.OPENAI_BASE_URL?.trim() || null;
  const base: LlmSettings = { ...config.llm, base_url: envBase ?? config.llm.base_url };
  if (!agent) return base;
  const override = agent.llm;
  return {
    ...base,
    ...(override.model !== undefined && { model: override.model }),
    ...(override.temperature !== undefined && { temperature: override.temperature }),
    ...(override.max_tokens !== undefined && { max_tokens: override.max_tokens }),
    ...(override.base_url != null && { base_url: override.base_url }),
  };
}

/** The message shown whenever no model is configured; names exactly what to set. */
export const NO_MODEL_MESSAGE =
  'No model configured. Set OPENAI_API_KEY (in the environment or a .env file) to use OpenAI, ' +
  'or set OPENAI_BASE_URL / llm.base_url in config.user.yaml to use a local OpenAI-compatible server ' +
  '(for Ollama: OPENAI_BASE_URL=http://127.0.0.1:11434/v1 and llm.model set to a model you pulled).';

/** True when there is a key or a base URL to talk to. */
export function isModelConfigured(config: BrineConfig, env: LlmEnv): boolean {
  return Boolean(env.OPENAI_API_KEY?.trim() || env.OPENAI_BASE_URL?.trim() || config.llm.base_url);
}

/** Throws `llm_not_configured` with {@link NO_MODEL_MESSAGE} unless a model is configured. */
export function assertModelConfigured(config: BrineConfig, env: LlmEnv): void {
  if (!isModelConfigured(config, env)) throw new LlmError('llm_not_configured', NO_MODEL_MESSAGE);
}
