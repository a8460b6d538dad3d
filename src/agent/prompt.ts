import { join } from 'node:path';
import type { WorkspaceSnapshot } from '../workspace/workspace.js';
import type { AgentDef } from '../workspace/definitions.js';
import { renderTemplate } from '../workspace/templates.js';

/** Variables available as `{{name}}` in every prompt layer. */
export function templateVars(snapshot: WorkspaceSnapshot, agent: AgentDef): Record<string, string> {
  return {
    workspace: snapshot.root,
    memories_path: join(snapshot.root, 'memories'),
    skills_path: join(snapshot.root, 'skills'),
    crons_path: join(snapshot.root, 'crons'),
    agent_id: agent.id,
    agent_name: agent.name,
  };
}

/** Facts about this turn that the model cannot know otherwise. */
export interface RuntimeFacts {
  source: string;
  sessionId: string;
  now: Date;
  /** Chain of agents that dispatched to this one, outermost first. */
  dispatchChain: readonly string[];
}

/**
 * Builds the system prompt from the layers, most specific first: the agent's
 * AGENT.md body, its SOUL.md, the shared AGENTS.md and BOOTSTRAP.md, then the
 * runtime facts (agent, time, where the message came from).
 */
export function buildSystemPrompt(snapshot: WorkspaceSnapshot, agent: AgentDef, facts: RuntimeFacts): string {
  const vars = templateVars(snapshot, agent);
  const layers = [agent.prompt, agent.soul, snapshot.layers.agents, snapshot.layers.bootstrap]
    .filter((layer): layer is string => Boolean(layer && layer.trim()))
    .map((layer) => renderTemplate(layer, vars));
  const platform = facts.source.split(':')[0] ?? facts.source;
  const runtime = [
    '## Runtime',
    `- You are the agent "${agent.id}" (${agent.name}).`,
    `- Current time: ${facts.now.toISOString()} (UTC).`,
    `- This message came from source "${facts.source}" (${platform}).`,
    `- Session: ${facts.sessionId}. Workspace: ${snapshot.root}.`,
    ...(facts.dispatchChain.length > 0
      ? [`- You were dispatched by: ${facts.dispatchChain.join(' -> ')}. Answer the task; your reply goes back to that agent.`]
      : []),
  ].join('\n');
  return [...layers, runtime].join('\n\n');
}
