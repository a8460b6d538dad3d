import OpenAI from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { LlmError } from '../errors.js';
import { mapLlmError } from './errors.js';
import { NO_MODEL_MESSAGE, type LlmEnv } from './settings.js';
import type { ChatMessage, LlmProvider, LlmRequest, LlmResponse, ToolSpec } from './types.js';

const OPENAI_DEFAULT_BASE = 'https://api.openai.com/v1';

/**
 * {@link LlmProvider} on the official openai SDK (chat completions with tool
 * calling). One SDK client per (base URL, timeout, retries), made on first use.
 */
export class OpenAiProvider implements LlmProvider {
  readonly #env: LlmEnv;
  readonly #clients = new Map<string, OpenAI>();

  constructor(env: LlmEnv) {
    this.#env = env;
  }

  async complete(request: LlmRequest): Promise<LlmResponse> {
    const { settings } = request;
    const baseURL = settings.base_url ?? OPENAI_DEFAULT_BASE;
    const client = this.#client(baseURL, settings.timeout_s, settings.max_retries);
    try {
      const completion = await client.chat.completions.create(
        {
          model: settings.model,
          messages: request.messages.map(toSdkMessage),
          temperature: settings.temperature,
          max_tokens: settings.max_tokens,
          ...(request.tools && request.tools.length > 0 && { tools: request.tools.map(toSdkTool) }),
        },
        { signal: request.signal },
      );
      const choice = completion.choices[0];
      if (!choice) throw new LlmError('llm_bad_response', `The model at ${baseURL} returned no choices.`);
      const toolCalls = (choice.message.tool_calls ?? []).flatMap((call) =>
        call.type === 'function' ? [{ id: call.id, name: call.function.name, arguments: call.function.arguments }] : [],
      );
      return {
        content: choice.message.content ?? null,
        toolCalls,
        finishReason: choice.finish_reason,
        ...(completion.usage && {
          usage: { promptTokens: completion.usage.prompt_tokens, completionTokens: completion.usage.completion_tokens },
        }),
      };
    } catch (err) {
      throw mapLlmError(err, { baseURL, model: settings.model });
    }
  }

  #client(baseURL: string, timeoutS: number, maxRetries: number): OpenAI {
    const key = `${baseURL}|${timeoutS}|${maxRetries}`;
    let client = this.#clients.get(key);
    if (!client) {
      const apiKey = this.#env.OPENAI_API_KEY?.trim();
      // A local server (Ollama, vLLM...) needs no key, but the SDK insists on one.
      if (!apiKey && baseURL === OPENAI_DEFAULT_BASE) throw new LlmError('llm_not_configured', NO_MODEL_MESSAGE);
      client = new OpenAI({ apiKey: apiKey || 'no-key', baseURL, timeout: timeoutS * 1000, maxRetries });
      this.#clients.set(key, client);
    }
    return client;
  }
}

function toSdkTool(tool: ToolSpec): ChatCompletionTool {
  return { type: 'function', function: { name: tool.name, description: tool.description, parameters: tool.parameters } };
}

function toSdkMessage(message: ChatMessage): ChatCompletionMessageParam {
  if (message.role === 'assistant') {
    return {
      role: 'assistant',
      content: message.content,
      ...(message.tool_calls &&
        message.tool_calls.length > 0 && {
          tool_calls: message.tool_calls.map((call) => ({
            id: call.id,
            type: 'function' as const,
            function: { name: call.name, arguments: call.arguments },
          })),
        }),
    };
  }
  return message;
}
