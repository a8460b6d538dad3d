import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import type { ConfigProblem } from '../errors.js';
import { zodProblems } from '../config/zod-problems.js';
import { parseFrontmatter } from './frontmatter.js';
import {
  agentFrontmatterSchema,
  cronFrontmatterSchema,
  skillFrontmatterSchema,
  type AgentDef,
  type CronDef,
  type SkillDef,
} from './definitions.js';

/** Ids are folder names: lowercase letters, digits, `-` and `_`. */
export const ID_PATTERN = /^[a-z0-9][a-z0-9_-]*$/;

interface Parsed<T> {
  id: string;
  file: string;
  data: T;
  body: string;
}

/**
 * Reads `<root>/<dir>/<id>/<fileName>` for every sub-folder, parses its
 * frontmatter with `schema`, and collects problems instead of throwing, so
 * `brine check` can list every broken file at once.
 */
async function loadFolder<S extends z.ZodType>(
  root: string,
  dir: string,
  fileName: string,
  schema: S,
  problems: ConfigProblem[],
): Promise<Parsed<z.output<S>>[]> {
  let entries;
  try {
    entries = await readdir(join(root, dir), { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    problems.push({ file: `${dir}/`, field: '', message: `cannot be read as a folder (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); ${dir}/ must be a folder of <id>/ folders` });
    return [];
  }
  const out: Parsed<z.output<S>>[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const file = `${dir}/${entry.name}/${fileName}`;
    if (!ID_PATTERN.test(entry.name)) {
      problems.push({ file: `${dir}/${entry.name}`, field: '', message: 'folder name must be lowercase letters, digits, "-" or "_" (it is the id)' });
      continue;
    }
    let text: string;
    try {
      text = await readFile(join(root, file), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        problems.push({ file, field: '', message: `is missing; every ${dir}/<id>/ folder needs a ${fileName}` });
      } else {
        problems.push({ file, field: '', message: `cannot be read: ${(err as Error).message}` });
      }
      continue;
    }
    const parsed = parseFrontmatter(text);
    if (!parsed.ok) {
      problems.push({ file, field: '', message: parsed.message });
      continue;
    }
    const result = schema.safeParse(parsed.file.data);
    if (!result.success) {
      problems.push(...zodProblems(result.error, parsed.file.data, file));
      continue;
    }
    out.push({ id: entry.name, file, data: result.data, body: parsed.file.body });
  }
  return out;
}

async function readOptional(path: string): Promise<string | null> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Loads every `agents/<id>/AGENT.md` (and SOUL.md beside it). */
export async function loadAgents(root: string, problems: ConfigProblem[]): Promise<Map<string, AgentDef>> {
  const agents = new Map<string, AgentDef>();
  for (const { id, file, data, body } of await loadFolder(root, 'agents', 'AGENT.md', agentFrontmatterSchema, problems)) {
    agents.set(id, {
      id,
      name: data.name,
      description: data.description,
      allowSkills: data.allow_skills,
      maxConcurrency: data.max_concurrency,
      llm: data.llm,
      prompt: body,
      soul: await readOptional(join(root, 'agents', id, 'SOUL.md')),
      file,
    });
  }
  return agents;
}

/** Loads every `skills/<id>/SKILL.md`. */
export async function loadSkills(root: string, problems: ConfigProblem[]): Promise<Map<string, SkillDef>> {
  const skills = new Map<string, SkillDef>();
  for (const { id, file, data, body } of await loadFolder(root, 'skills', 'SKILL.md', skillFrontmatterSchema, problems)) {
    skills.set(id, { id, name: data.name, description: data.description, body, file });
  }
  return skills;
}

/** Loads every `crons/<id>/CRON.md`. */
export async function loadCrons(root: string, problems: ConfigProblem[]): Promise<Map<string, CronDef>> {
  const crons = new Map<string, CronDef>();
  for (const { id, file, data, body } of await loadFolder(root, 'crons', 'CRON.md', cronFrontmatterSchema, problems)) {
    crons.set(id, {
      id,
      name: data.name,
      description: data.description,
      agent: data.agent,
      schedule: data.schedule,
      oneOff: data.one_off,
      prompt: body,
      file,
    });
  }
  return crons;
}

/** Reads an optional shared prompt layer (AGENTS.md, BOOTSTRAP.md). */
export function loadLayer(root: string, name: string): Promise<string | null> {
  return readOptional(join(root, name));
}
