import { z } from 'zod';
import { CronExpressionParser } from 'cron-parser';
import { intAtLeast, llmOverrideSchema, type LlmOverride } from '../config/schema.js';

/** Frontmatter of `agents/<id>/AGENT.md`. */
export const agentFrontmatterSchema = z
  .object({
    name: z.string({ error: 'is required: a display name, e.g. name: Pickle' }).min(1),
    description: z.string().default(''),
    allow_skills: z.boolean().default(false),
    max_concurrency: intAtLeast(1).default(1),
    llm: llmOverrideSchema.default({}),
  })
  .strict();

/** Frontmatter of `skills/<id>/SKILL.md`. */
export const skillFrontmatterSchema = z
  .object({
    name: z.string({ error: 'is required: the skill name' }).min(1),
    description: z.string({ error: 'is required: one line saying when to use the skill' }).min(1),
  })
  .strict();

/** Five whitespace-separated cron fields (minute hour day-of-month month day-of-week). */
const FIVE_FIELDS = /^\s*\S+(\s+\S+){4}\s*$/;

/** Null when `expression` is a valid 5-field cron expression, else why not (parsed by cron-parser). */
export function cronScheduleError(expression: string): string | null {
  if (!FIVE_FIELDS.test(expression)) return 'must be a 5-field cron expression (minute hour day-of-month month day-of-week), e.g. "0 9 * * 1-5"';
  try {
    CronExpressionParser.parse(expression);
    return null;
  } catch (err) {
    return `is not a valid cron expression (${(err as Error).message}); e.g. "0 9 * * 1-5"`;
  }
}

/** Frontmatter of `crons/<id>/CRON.md`. */
export const cronFrontmatterSchema = z
  .object({
    name: z.string({ error: 'is required: the job name' }).min(1),
    description: z.string().default(''),
    agent: z.string({ error: 'is required: the id of the agent that runs the job' }).min(1),
    schedule: z
      .string({ error: 'is required: a 5-field cron expression such as "0 9 * * 1-5"' })
      .superRefine((value, ctx) => {
        const error = cronScheduleError(value);
        if (error) ctx.addIssue({ code: 'custom', message: error });
      }),
    one_off: z.boolean().default(false),
  })
  .strict();

/** A loaded agent. */
export interface AgentDef {
  /** Folder name under agents/, used in routing and dispatch. */
  id: string;
  name: string;
  description: string;
  allowSkills: boolean;
  maxConcurrency: number;
  llm: LlmOverride;
  /** AGENT.md body (the system prompt), templates not yet rendered. */
  prompt: string;
  /** SOUL.md beside it, if any. */
  soul: string | null;
  /** Path relative to the workspace, for messages. */
  file: string;
}

/** A loaded skill. */
export interface SkillDef {
  id: string;
  name: string;
  description: string;
  body: string;
  file: string;
}

/** A loaded cron job. */
export interface CronDef {
  id: string;
  name: string;
  description: string;
  agent: string;
  schedule: string;
  oneOff: boolean;
  prompt: string;
  file: string;
}
