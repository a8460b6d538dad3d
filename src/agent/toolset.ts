import type { WorkspaceSnapshot } from '../workspace/workspace.js';
import type { AgentDef } from '../workspace/definitions.js';
import type { Tool } from '../tools/types.js';
import { readTool, writeTool, editTool } from '../tools/fs-tools.js';
import { bashTool, isBashAllowed } from '../tools/bash-tool.js';
import { webreadTool, websearchTool, webToolsEnabled } from '../tools/web-tools.js';
import { createSkillTool } from '../tools/skill-tool.js';
import { createDispatchTool, type Dispatcher } from '../tools/dispatch-tool.js';
import type { Admission } from '../concurrency/admission.js';

/** Extra tools a kind of session brings (e.g. `post_message` in cron sessions). */
export type ExtraTools = readonly Tool[];

/**
 * The tools of one turn, by DESIGN.md 3a: file tools always; bash only for
 * allowed sources; skill with `allow_skills`; dispatch when there is another
 * agent; web tools when configured. `offered` go to the model; `callable`
 * also holds bash when it is not offered, so a model that calls it anyway
 * gets bash's own refusal (naming the source and the setting), not "unknown tool".
 */
export function toolsForTurn(options: {
  snapshot: WorkspaceSnapshot;
  agent: AgentDef;
  source: string;
  sessionId: string;
  chain: readonly string[];
  dispatcher: Dispatcher;
  admission?: Admission;
  extra?: ExtraTools;
}): { offered: Tool[]; callable: Map<string, Tool> } {
  const { snapshot, agent } = options;
  const tools: Tool[] = [readTool, writeTool, editTool];
  if (isBashAllowed(snapshot.config, options.source)) tools.push(bashTool);
  if (agent.allowSkills && snapshot.skills.size > 0) tools.push(createSkillTool(snapshot.skills));
  if (snapshot.agents.size > 1) {
    tools.push(
      createDispatchTool({
        agents: snapshot.agents,
        self: agent,
        chain: options.chain,
        maxDepth: snapshot.config.turn.dispatch_max_depth,
        dispatcher: options.dispatcher,
        sessionId: options.sessionId,
        ...(options.admission && { admission: options.admission }),
      }),
    );
  }
  if (webToolsEnabled(snapshot.config)) tools.push(websearchTool, webreadTool);
  const offered = [...tools, ...(options.extra ?? [])];
  const callable = new Map([bashTool, ...offered].map((t) => [t.name, t]));
  return { offered, callable };
}
