import { describeError } from '../errors.js';
import type { ToolCall } from '../llm/types.js';
import type { Tool, ToolContext } from '../tools/types.js';

/**
 * Runs one tool call and always returns text for the model: unknown tools,
 * malformed JSON arguments and throwing tools become an error result, so the
 * model can correct itself and the turn never crashes.
 */
export async function runToolCall(call: ToolCall, tools: ReadonlyMap<string, Tool>, ctx: ToolContext): Promise<{ content: string; ok: boolean }> {
  const tool = tools.get(call.name);
  if (!tool) {
    return { ok: false, content: `error: unknown tool "${call.name}"; available tools: ${[...tools.keys()].join(', ')}` };
  }
  let args: unknown;
  try {
    args = call.arguments.trim() === '' ? {} : JSON.parse(call.arguments);
  } catch (err) {
    return {
      ok: false,
      content: `error: the arguments for ${call.name} are not valid JSON (${describeError(err)}); send a JSON object matching the tool's parameters`,
    };
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    return { ok: false, content: `error: the arguments for ${call.name} must be a JSON object` };
  }
  try {
    return { ok: true, content: await tool.run(args as Record<string, unknown>, ctx) };
  } catch (err) {
    ctx.logger.info({ tool: call.name, agent: ctx.agentId, err: describeError(err) }, 'tool call failed');
    return { ok: false, content: `error: ${describeError(err)}` };
  }
}
