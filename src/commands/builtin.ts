import { BrineError } from '../errors.js';
import { compileBinding } from '../routing.js';
import type { SlashCommand } from './slash.js';
import type { LimitStats } from '../concurrency/limited-pool.js';

/** `/help`, listing every command (including itself). */
function helpCommand(all: () => readonly SlashCommand[]): SlashCommand {
  return {
    name: 'help',
    usage: '/help',
    summary: 'list the commands',
    async run() {
      const width = Math.max(...all().map((c) => c.usage.length));
      return ['Commands (answered at once, without the model):', ...all().map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`), 'Anything else, including an unknown /word, goes to the agent.'].join('\n');
    },
  };
}

const agentCommand: SlashCommand = {
  name: 'agent',
  usage: '/agent [id]',
  summary: 'list agents; with an id, switch this conversation to that agent',
  changesSession: (args) => args.length > 0,
  async run(args, { event, host }) {
    const snapshot = host.snapshot();
    const current = await host.sessions.current(event.source);
    if (!args) {
      const lines = [...snapshot.agents.values()].map((a) => {
        const mark = a.id === current?.agentId ? '*' : ' ';
        return `${mark} ${a.id} (${a.name}, max_concurrency ${a.maxConcurrency})${a.description ? `: ${a.description}` : ''}`;
      });
      return [`Agents (* = this conversation${current ? '' : `; new conversations go to ${snapshot.config.default_agent} unless a binding matches`}):`, ...lines].join('\n');
    }
    const agent = snapshot.agents.get(args);
    if (!agent) throw new BrineError('unknown_agent', `There is no agent "${args}". Agents: ${[...snapshot.agents.keys()].join(', ')}.`);
    if (current?.agentId === agent.id) return `Already talking to ${agent.name} (session ${current.id}).`;
    const session = await host.startSession(event.source, agent.id);
    return `Now talking to ${agent.name} in a new session (${session.id}).`;
  },
};

const skillsCommand: SlashCommand = {
  name: 'skills',
  usage: '/skills [id]',
  summary: 'list skills, or show one',
  async run(args, { host }) {
    const { skills } = host.snapshot();
    if (args) {
      const skill = skills.get(args);
      if (!skill) throw new BrineError('unknown_skill', `There is no skill "${args}". Skills: ${[...skills.keys()].join(', ') || 'none'}.`);
      return `${skill.name} (${skill.file}): ${skill.description}\n\n${skill.body}`;
    }
    if (skills.size === 0) return 'No skills in this workspace (add skills/<id>/SKILL.md).';
    return ['Skills:', ...[...skills.values()].map((s) => `  ${s.id}: ${s.description}`)].join('\n');
  },
};

const cronsCommand: SlashCommand = {
  name: 'crons',
  usage: '/crons [id]',
  summary: 'list cron jobs, or show one',
  async run(args, { host }) {
    const { crons } = host.snapshot();
    if (args) {
      const cron = crons.get(args);
      if (!cron) throw new BrineError('unknown_cron', `There is no cron job "${args}". Jobs: ${[...crons.keys()].join(', ') || 'none'}.`);
      return `${cron.name} (${cron.file}): "${cron.schedule}" -> ${cron.agent}${cron.oneOff ? ', one-off' : ''}\n${cron.description}\n\n${cron.prompt}`;
    }
    if (crons.size === 0) return 'No cron jobs (add crons/<id>/CRON.md; the cron-ops skill explains how).';
    return ['Cron jobs:', ...[...crons.values()].map((c) => `  ${c.id}: "${c.schedule}" -> ${c.agent}${c.oneOff ? ' (one-off)' : ''}  ${c.description}`)].join('\n');
  },
};

const sessionCommand: SlashCommand = {
  name: 'session',
  usage: '/session',
  summary: "show this conversation's session",
  async run(_args, { event, host }) {
    const session = await host.sessionFor(event.source);
    const entries = await host.sessions.load(session.id);
    return [
      `Session ${session.id}`,
      `  source:   ${session.source}`,
      `  agent:    ${session.agentId}`,
      `  started:  ${session.createdAt}`,
      `  messages: ${entries.length}`,
      ...(session.previous ? [`  continues: ${session.previous} (compacted)`] : []),
      `  history:  ${host.sessions.locationOf(session.id)}`,
    ].join('\n');
  },
};

const contextCommand: SlashCommand = {
  name: 'context',
  usage: '/context',
  summary: 'how full the context window is',
  async run(_args, { event, host }) {
    const session = await host.sessionFor(event.source);
    const usage = await host.contextUsage(session);
    const pct = Math.round((usage.tokens / usage.window) * 100);
    return `Context: about ${usage.tokens} of ${usage.window} tokens (${pct}%); compaction starts at ${usage.threshold}. /compact summarizes now.`;
  },
};

const compactCommand: SlashCommand = {
  name: 'compact',
  usage: '/compact',
  summary: 'summarize older turns into a fresh session',
  changesSession: () => true,
  async run(_args, { event, host }) {
    const session = await host.sessionFor(event.source);
    const result = await host.compact(session);
    if (!result) return 'Nothing to compact yet: the conversation is all recent turns.';
    return `Compacted ${result.summarized} older messages into a summary; continuing in session ${result.session.id}.`;
  },
};

const clearCommand: SlashCommand = {
  name: 'clear',
  usage: '/clear',
  summary: 'start over in an empty session (the old one is kept on disk)',
  changesSession: () => true,
  async run(_args, { event, host }) {
    const current = await host.sessionFor(event.source);
    const session = await host.startSession(event.source, current.agentId);
    return `Started a new session (${session.id}) with ${current.agentId}.`;
  },
};

const routeCommand: SlashCommand = {
  name: 'route',
  usage: '/route <regex> <agent>',
  summary: 'send new sessions of matching sources to an agent',
  async run(args, { host }) {
    const match = /^(\S+)\s+(\S+)$/.exec(args);
    if (!match) throw new BrineError('usage', 'Usage: /route <regex> <agent>, e.g. /route platform-slack:.*:C0MEMORY.* cookie');
    const [, value, agent] = match as unknown as [string, string, string];
    const snapshot = host.snapshot();
    if (!snapshot.agents.has(agent)) throw new BrineError('unknown_agent', `There is no agent "${agent}". Agents: ${[...snapshot.agents.keys()].join(', ')}.`);
    try {
      compileBinding({ agent, value });
    } catch (err) {
      throw new BrineError('invalid_regex', `"${value}" is not a valid regular expression: ${(err as Error).message}`);
    }
    await host.addBinding({ agent, value });
    return `Added binding ${value} -> ${agent} (config.runtime.yaml). It applies to new sessions; existing ones keep their agent.`;
  },
};

const bindingsCommand: SlashCommand = {
  name: 'bindings',
  usage: '/bindings',
  summary: 'list routing bindings',
  async run(_args, { host }) {
    const { config } = host.snapshot();
    const lines = config.routing.bindings.map((b, i) => `  ${i + 1}. ${b.value} -> ${b.agent}`);
    return [`Routing (exact > regex > wildcard, then order; otherwise ${config.default_agent}):`, ...(lines.length ? lines : ['  no bindings'])].join('\n');
  },
};

const statusCommand: SlashCommand = {
  name: 'status',
  usage: '/status',
  summary: 'limits, running and queued turns per agent',
  async run(_args, { host }) {
    const row = (id: string, s: LimitStats) =>
      `  ${id.padEnd(12)} limit ${s.limit}  running ${s.running}  queued ${s.queued}${s.queued ? `  oldest wait ${s.oldestWaitS.toFixed(1)} s` : ''}`;
    const sources = Object.entries(host.sourceStatus());
    return [
      'Agents:',
      ...Object.entries(host.agentStatus()).map(([id, s]) => row(id, s)),
      ...(sources.length > 0 ? ['Sources (concurrency.per_source):', ...sources.map(([id, s]) => row(id, s))] : []),
      `Total (concurrency.max_total):`,
      row('all', host.totalStatus()),
    ].join('\n');
  },
};

/** Every built-in command, in /help order. */
export function builtinCommands(): SlashCommand[] {
  const commands: SlashCommand[] = [];
  commands.push(
    helpCommand(() => commands),
    agentCommand,
    skillsCommand,
    cronsCommand,
    sessionCommand,
    contextCommand,
    compactCommand,
    clearCommand,
    routeCommand,
    bindingsCommand,
    statusCommand,
  );
  return commands;
}
