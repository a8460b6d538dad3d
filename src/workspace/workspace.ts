import { realpath, stat } from 'node:fs/promises';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { fileSetting, loadConfig, USER_CONFIG_FILE, RUNTIME_CONFIG_FILE } from '../config/load.js';
import type { BrineConfig } from '../config/schema.js';
import type { AgentDef, CronDef, SkillDef } from './definitions.js';
import { loadAgents, loadCrons, loadLayer, loadSkills } from './load-definitions.js';
import { compileBinding } from '../routing.js';
import { fullMatchRegex } from '../util/full-match.js';

/** Everything loaded from a workspace folder at one moment; immutable once built. */
export interface WorkspaceSnapshot {
  /** Absolute real path of the workspace. */
  root: string;
  config: BrineConfig;
  agents: ReadonlyMap<string, AgentDef>;
  skills: ReadonlyMap<string, SkillDef>;
  crons: ReadonlyMap<string, CronDef>;
  /** Shared prompt layers, templates not yet rendered. */
  layers: { agents: string | null; bootstrap: string | null };
}

/** Result of {@link loadWorkspace}: a snapshot (null if the config itself is unusable) and every problem. */
export interface WorkspaceLoad {
  snapshot: WorkspaceSnapshot | null;
  problems: ConfigProblem[];
}

/**
 * Loads config, agents, skills, crons and prompt layers, then checks what
 * refers to what (default_agent, bindings, cron agents). Never throws for bad
 * content: every problem is returned, each naming file, field and fix.
 */
export async function loadWorkspace(dir: string): Promise<WorkspaceLoad> {
  const problems: ConfigProblem[] = [];
  let root: string;
  try {
    root = await realpath(dir);
    if (!(await stat(root)).isDirectory()) throw new Error('not a directory');
  } catch {
    return { snapshot: null, problems: [{ file: dir, field: '', message: 'is not a workspace folder; create one with `brine init DIR` or pass --workspace' }] };
  }
  const { config, problems: configProblems, layers: configLayers } = await loadConfig(root);
  problems.push(...configProblems);
  const agents = await loadAgents(root, problems);
  const skills = await loadSkills(root, problems);
  const crons = await loadCrons(root, problems);
  const layers = { agents: await loadLayer(root, 'AGENTS.md'), bootstrap: await loadLayer(root, 'BOOTSTRAP.md') };
  if (agents.size === 0 && !problems.some((p) => p.file.startsWith('agents/'))) {
    problems.push({ file: 'agents/', field: '', message: 'holds no agent; add agents/<id>/AGENT.md (see default_workspace/agents/pickle)' });
  }
  const agentList = [...agents.keys()].join(', ') || 'none';
  // Checks that need no config run first, so a broken config hides nothing.
  for (const cron of crons.values()) {
    if (!agents.has(cron.agent)) {
      problems.push({ file: cron.file, field: 'agent', message: `names agent "${cron.agent}", which does not exist (agents: ${agentList})` });
    }
  }
  if (!config) return { snapshot: null, problems };

  if (!agents.has(config.default_agent) && agents.size > 0) {
    problems.push({ file: fileSetting('default_agent', configLayers), field: 'default_agent', message: `names agent "${config.default_agent}", which does not exist (agents: ${agentList})` });
  }
  const userBindingCount = Array.isArray((configLayers.user.routing as { bindings?: unknown } | undefined)?.bindings)
    ? ((configLayers.user.routing as { bindings: unknown[] }).bindings.length)
    : 0;
  // Bindings from config.runtime.yaml come after the user's; blame the right file.
  const bindingFile = (index: number) => (index < userBindingCount ? USER_CONFIG_FILE : RUNTIME_CONFIG_FILE);
  const bindingField = (index: number, key: string) =>
    `routing.bindings.${index < userBindingCount ? index : index - userBindingCount}.${key}`;
  config.routing.bindings.forEach((binding, index) => {
    if (!agents.has(binding.agent)) {
      problems.push({ file: bindingFile(index), field: bindingField(index, 'agent'), message: `names agent "${binding.agent}", which does not exist (agents: ${agentList})` });
    }
    try {
      compileBinding(binding);
    } catch (err) {
      problems.push({ file: bindingFile(index), field: bindingField(index, 'value'), message: `is not a valid regular expression: ${(err as Error).message}` });
    }
  });
  config.tools.bash.allowed_sources.forEach((pattern, index) => {
    try {
      fullMatchRegex(pattern);
    } catch (err) {
      problems.push({ file: fileSetting('tools', configLayers), field: `tools.bash.allowed_sources.${index}`, message: `is not a valid regular expression: ${(err as Error).message}` });
    }
  });
  return { snapshot: { root, config, agents, skills, crons, layers }, problems };
}

/** Loads a workspace and throws a {@link ConfigError} listing every problem, if any. */
export async function requireWorkspace(dir: string): Promise<WorkspaceSnapshot> {
  const { snapshot, problems } = await loadWorkspace(dir);
  if (!snapshot || problems.length > 0) throw new ConfigError(problems);
  return snapshot;
}
