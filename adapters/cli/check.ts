import { formatProblem } from '../../src/errors.js';
import { loadWorkspace } from '../../src/workspace/workspace.js';
import { isModelConfigured, NO_MODEL_MESSAGE } from '../../src/llm/settings.js';
import { loadDotenv } from '../../src/config/env.js';

/**
 * `brine check`: validates config and every AGENT.md, SKILL.md and CRON.md,
 * printing each problem as `file: field message`. Returns the exit code
 * (1 if anything is wrong).
 */
export async function checkCommand(workspace: string, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  loadDotenv(workspace);
  const { snapshot, problems } = await loadWorkspace(workspace);
  if (problems.length > 0) {
    err.write(`${problems.length} problem${problems.length === 1 ? '' : 's'} in ${workspace}:\n`);
    for (const problem of problems) err.write(`  ${formatProblem(problem)}\n`);
    return 1;
  }
  if (!snapshot) return 1;
  out.write(
    `ok: ${snapshot.root}\n  agents: ${[...snapshot.agents.values()].map((a) => `${a.id} (max_concurrency ${a.maxConcurrency})`).join(', ')}\n` +
      `  skills: ${[...snapshot.skills.keys()].join(', ') || 'none'}\n  crons: ${[...snapshot.crons.keys()].join(', ') || 'none'}\n`,
  );
  if (!isModelConfigured(snapshot.config, process.env)) out.write(`note: ${NO_MODEL_MESSAGE}\n`);
  return 0;
}
