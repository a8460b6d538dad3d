import { ToolError } from '../errors.js';
import type { AgentDef } from '../workspace/definitions.js';
import type { Tool } from './types.js';
import type { Admission } from '../concurrency/admission.js';

/** A request from one agent's turn to run another agent. */
export interface DispatchRequest {
  /** Agent asked to do the work. */
  agentId: string;
  task: string;
  context?: string;
  /** Agents already on the call stack, outermost first, ending with the caller. */
  chain: readonly string[];
  /** Session of the calling turn (the child session records it as parent). */
  parentSessionId: string;
  signal: AbortSignal;
  /** The calling turn's admission: the child borrows its process slot and inherits its priority. */
  parent?: Admission;
}

/** Runs another agent's turn in a child session and returns its answer (implemented by the worker). */
export interface Dispatcher {
  dispatch(request: DispatchRequest): Promise<string>;
}

/**
 * The `subagent_dispatch` tool. Its description lists the other agents, so
 * the model knows whom it can ask. Cycles (an agent already on the call
 * chain) are refused here, before any semaphore is touched: waiting for an
 * agent that is waiting for us would deadlock.
 */
export function createDispatchTool(options: {
  agents: ReadonlyMap<string, AgentDef>;
  self: AgentDef;
  chain: readonly string[];
  maxDepth: number;
  dispatcher: Dispatcher;
  sessionId: string;
  admission?: Admission;
}): Tool {
  const others = [...options.agents.values()].filter((a) => a.id !== options.self.id);
  const list = others.map((a) => `- ${a.id} (${a.name})${a.description ? `: ${a.description}` : ''}`).join('\n');
  return {
    name: 'subagent_dispatch',
    description: `Ask another agent to do a task and wait for its answer. Agents:\n${list}`,
    parameters: {
      type: 'object',
      properties: {
        agent_id: { type: 'string', enum: others.map((a) => a.id), description: 'Which agent' },
        task: { type: 'string', description: 'What the agent should do, self-contained' },
        context: { type: 'string', description: 'Optional background the agent needs' },
      },
      required: ['agent_id', 'task'],
      additionalProperties: false,
    },
    async run(args, ctx) {
      const { agent_id: agentId, task, context } = args;
      if (typeof agentId !== 'string' || typeof task !== 'string' || !task.trim()) {
        throw new ToolError('subagent_dispatch needs "agent_id" (string) and "task" (non-empty string)');
      }
      if (context !== undefined && typeof context !== 'string') throw new ToolError('"context" must be a string');
      if (!options.agents.has(agentId)) {
        throw new ToolError(`unknown agent "${agentId}"; available: ${others.map((a) => a.id).join(', ') || 'none'}`);
      }
      const chain = [...options.chain, options.self.id];
      if (chain.includes(agentId)) {
        throw new ToolError(
          `dispatch refused: ${[...chain, agentId].join(' -> ')} is a cycle (${agentId} is already waiting in this chain); do the work yourself or answer without it`,
          { code: 'dispatch_cycle' },
        );
      }
      if (chain.length > options.maxDepth) {
        throw new ToolError(`dispatch refused: chain ${chain.join(' -> ')} is deeper than turn.dispatch_max_depth (${options.maxDepth})`, { code: 'dispatch_too_deep' });
      }
      return options.dispatcher.dispatch({
        agentId,
        task,
        ...(context !== undefined && { context }),
        chain,
        parentSessionId: options.sessionId,
        signal: ctx.signal,
        ...(options.admission && { parent: options.admission }),
      });
    },
  };
}
