import { ToolError } from '../errors.js';
import type { SkillDef } from '../workspace/definitions.js';
import type { Tool } from './types.js';

/** The `skill` tool: loads a SKILL.md body. Offered only to agents with `allow_skills`. */
export function createSkillTool(skills: ReadonlyMap<string, SkillDef>): Tool {
  const list = [...skills.values()].map((s) => `- ${s.id}: ${s.description}`).join('\n');
  return {
    name: 'skill',
    description: `Load the instructions of a skill before doing a task it covers. Available skills:\n${list}`,
    parameters: {
      type: 'object',
      properties: { id: { type: 'string', description: 'Skill id, e.g. cron-ops' } },
      required: ['id'],
      additionalProperties: false,
    },
    async run(args) {
      const id = args.id;
      if (typeof id !== 'string') throw new ToolError('skill needs "id": a skill id string');
      const skill = skills.get(id);
      if (!skill) throw new ToolError(`unknown skill "${id}"; available: ${[...skills.keys()].join(', ') || 'none'}`);
      return `# Skill: ${skill.name}\n\n${skill.body}`;
    },
  };
}
