// Config and workspace validation (DESIGN.md section 2), through loadWorkspace /
// requireWorkspace on temp copies of default_workspace: every bad AGENT.md,
// SKILL.md, CRON.md, config.user.yaml and config.runtime.yaml value is reported
// with its exact file and field and a message saying what is expected and what
// was given; all problems are reported at once; defaults and the merge order
// defaults <- user <- runtime; template rendering; bad files are never modified.
// Also routing (routeSource): exact > regex > wildcard, then order; full match.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ConfigError, formatProblem, type ConfigProblem } from '../src/errors.js';
import { loadWorkspace, requireWorkspace, type WorkspaceLoad } from '../src/workspace/workspace.js';
import { renderTemplate } from '../src/workspace/templates.js';
import { routeSource } from '../src/routing.js';
import type { Binding } from '../src/config/schema.js';
import { agentMd, makeWorkspace, tree } from './helpers/workspace.js';

const COOKIE = 'agents/cookie/AGENT.md';

/** Loads a temp workspace (default_workspace plus `files`) and removes it again. */
async function load(files: Record<string, string>, options: { empty?: boolean } = {}): Promise<WorkspaceLoad> {
  const ws = await makeWorkspace(files, options);
  try {
    return await loadWorkspace(ws.dir);
  } finally {
    await ws.cleanup();
  }
}

/** Asserts that exactly one problem was found and returns it. */
function only(problems: readonly ConfigProblem[]): ConfigProblem {
  assert.equal(problems.length, 1, `expected exactly one problem, got:\n${problems.map(formatProblem).join('\n')}`);
  return problems[0]!;
}

/** Finds the problem for `file` + `field`, failing with the full list if absent. */
function find(problems: readonly ConfigProblem[], file: string, field: string): ConfigProblem {
  const hit = problems.find((p) => p.file === file && p.field === field);
  assert.ok(hit, `no problem for ${file} / ${field || '(whole file)'} in:\n${problems.map(formatProblem).join('\n')}`);
  return hit;
}

function cookieWith(frontmatter: string): Record<string, string> {
  return { [COOKIE]: agentMd(frontmatter) };
}

function cron(frontmatter: string): string {
  return `---\n${frontmatter.trim()}\n---\nDo the job.\n`;
}

describe('AGENT.md frontmatter', () => {
  const cases: [yaml: string, shown: string][] = [
    ['0', '0'],
    ['-1', '-1'],
    ['1.5', '1.5'],
    ['"two"', '"two"'],
    ['two', '"two"'],
  ];
  for (const [yaml, shown] of cases) {
    test(`max_concurrency: ${yaml} is rejected, naming file, field, expectation and value`, async () => {
      const { problems } = await load(cookieWith(`name: Cookie\nmax_concurrency: ${yaml}`));
      const problem = only(problems);
      assert.equal(problem.file, COOKIE);
      assert.equal(problem.field, 'max_concurrency');
      assert.equal(formatProblem(problem), `${COOKIE}: max_concurrency must be an integer >= 1 (got ${shown})`);
    });
  }

  test('a bad agent is not loaded with a silent default', async () => {
    const { snapshot } = await load(cookieWith('name: Cookie\nmax_concurrency: 0'));
    assert.ok(snapshot, 'the config itself is fine, so a snapshot exists');
    assert.equal(snapshot.agents.has('cookie'), false);
    assert.equal(snapshot.agents.get('pickle')?.maxConcurrency, 3);
  });

  test('missing name', async () => {
    const problem = only((await load(cookieWith('description: no name here\nmax_concurrency: 1'))).problems);
    assert.equal(problem.file, COOKIE);
    assert.equal(problem.field, 'name');
    assert.match(problem.message, /is required/);
    assert.match(problem.message, /got nothing/);
  });

  test('an unknown field (a typo) is an error naming the field', async () => {
    const problem = only((await load(cookieWith('name: Cookie\nmax_concurency: 2'))).problems);
    assert.equal(problem.file, COOKIE);
    assert.equal(problem.field, 'max_concurency');
    assert.match(problem.message, /not a known field/);
    assert.match(problem.message, /spelling/);
  });

  test('an unknown key inside the llm override names the dotted field', async () => {
    const problem = only((await load(cookieWith('name: Cookie\nllm:\n  model: x\n  temprature: 0.1'))).problems);
    assert.equal(problem.file, COOKIE);
    assert.equal(problem.field, 'llm.temprature');
  });

  // File line 4 is `max_concurrency: 1: 2` (line 1 is the opening `---`).
  const BROKEN_YAML = '---\nname: Cookie\ndescription: ok\nmax_concurrency: 1: 2\n---\nbody\n';

  test('broken YAML names the file, says not valid YAML and gives the file line', async () => {
    const problem = only((await load({ [COOKIE]: BROKEN_YAML })).problems);
    assert.equal(problem.file, COOKIE);
    assert.equal(problem.field, '');
    assert.match(formatProblem(problem), /^agents\/cookie\/AGENT\.md: frontmatter is not valid YAML \(line 4\)/);
  });

  test(
    'broken YAML message does not contradict its own line number',
    async () => {
      const problem = only((await load({ [COOKIE]: BROKEN_YAML })).problems);
      const lines = [...problem.message.matchAll(/line (\d+)/g)].map((m) => m[1]);
      assert.deepEqual([...new Set(lines)], ['4'], problem.message);
    },
  );

  test('no frontmatter at all', async () => {
    const problem = only((await load({ [COOKIE]: 'You are Cookie, but I forgot the header.\n' })).problems);
    assert.equal(problem.file, COOKIE);
    assert.equal(problem.field, '');
    assert.match(problem.message, /no YAML frontmatter/);
    assert.match(problem.message, /---/, 'says how to fix it');
  });

  test('frontmatter that is not closed', async () => {
    const problem = only((await load({ [COOKIE]: '---\nname: Cookie\nYou are Cookie.\n' })).problems);
    assert.equal(problem.file, COOKIE);
    assert.match(problem.message, /not closed/);
  });

  test('a folder name with uppercase letters is rejected and not loaded', async () => {
    const { problems, snapshot } = await load({ 'agents/Cookie2/AGENT.md': agentMd('name: Cookie Two') });
    const problem = only(problems);
    assert.equal(problem.file, 'agents/Cookie2');
    assert.equal(problem.field, '');
    assert.match(problem.message, /lowercase/);
    assert.deepEqual([...snapshot!.agents.keys()].sort(), ['cookie', 'pickle']);
  });

  test('an agent folder without AGENT.md', async () => {
    const ws = await makeWorkspace({ 'agents/ghost/SOUL.md': 'soul only' });
    try {
      const problem = only((await loadWorkspace(ws.dir)).problems);
      assert.equal(problem.file, 'agents/ghost/AGENT.md');
      assert.match(problem.message, /is missing/);
    } finally {
      await ws.cleanup();
    }
  });

  test(
    'agents/ being a file is reported as a problem, not thrown',
    async () => {
      const { problems } = await load({ agents: 'not a folder' }, { empty: true });
      assert.ok(problems.some((p) => p.file.startsWith('agents')), problems.map(formatProblem).join('\n'));
    },
  );
});

describe('SKILL.md and CRON.md', () => {
  test('SKILL.md missing description', async () => {
    const problem = only((await load({ 'skills/notes/SKILL.md': '---\nname: notes\n---\nHow to take notes.\n' })).problems);
    assert.equal(problem.file, 'skills/notes/SKILL.md');
    assert.equal(problem.field, 'description');
    assert.match(problem.message, /is required/);
  });

  test('CRON.md with a schedule that is not a cron expression', async () => {
    const problem = only((await load({ 'crons/tick/CRON.md': cron('name: Tick\nagent: pickle\nschedule: every minute') })).problems);
    assert.equal(problem.file, 'crons/tick/CRON.md');
    assert.equal(problem.field, 'schedule');
    assert.match(problem.message, /5-field cron expression/);
    assert.match(problem.message, /\(got "every minute"\)/);
  });

  for (const schedule of ['every minute of every day', '61 25 * * *']) {
    test(
      `CRON.md schedule "${schedule}" is rejected`,
      async () => {
        const { problems } = await load({ 'crons/tick/CRON.md': cron(`name: Tick\nagent: pickle\nschedule: "${schedule}"`) });
        find(problems, 'crons/tick/CRON.md', 'schedule');
      },
    );
  }

  test('CRON.md naming an unknown agent', async () => {
    const problem = only((await load({ 'crons/tick/CRON.md': cron('name: Tick\nagent: ghost\nschedule: "*/5 * * * *"') })).problems);
    assert.equal(problem.file, 'crons/tick/CRON.md');
    assert.equal(problem.field, 'agent');
    assert.match(problem.message, /"ghost"/);
    assert.match(problem.message, /does not exist/);
    assert.match(problem.message, /cookie, pickle/, 'lists the agents that do exist');
  });

  test('a valid CRON.md is loaded', async () => {
    const { problems, snapshot } = await load({ 'crons/tick/CRON.md': cron('name: Tick\nagent: cookie\nschedule: "0 9 * * 1-5"\none_off: true') });
    assert.deepEqual(problems, []);
    const job = snapshot!.crons.get('tick');
    assert.equal(job?.agent, 'cookie');
    assert.equal(job?.schedule, '0 9 * * 1-5');
    assert.equal(job?.oneOff, true);
    assert.equal(job?.prompt, 'Do the job.');
  });
});

describe('config.user.yaml and config.runtime.yaml', () => {
  test('unknown top-level key', async () => {
    const { problems, snapshot } = await load({ 'config.user.yaml': 'defualt_agent: cookie\n' });
    const problem = only(problems);
    assert.equal(problem.file, 'config.user.yaml');
    assert.equal(problem.field, 'defualt_agent');
    assert.match(problem.message, /not a known field/);
    assert.equal(snapshot, null, 'an invalid config yields no snapshot');
  });

  test('unknown nested key', async () => {
    const problem = only((await load({ 'config.user.yaml': 'concurrency:\n  max_totl: 4\n' })).problems);
    assert.equal(problem.file, 'config.user.yaml');
    assert.equal(problem.field, 'concurrency.max_totl');
    assert.match(problem.message, /not a known field/);
  });

  test('wrong type: concurrency.max_total: "lots"', async () => {
    const problem = only((await load({ 'config.user.yaml': 'concurrency:\n  max_total: "lots"\n' })).problems);
    assert.equal(formatProblem(problem), 'config.user.yaml: concurrency.max_total must be an integer >= 1 (got "lots")');
  });

  test('wrong type: llm.temperature: hot', async () => {
    const problem = only((await load({ 'config.user.yaml': 'llm:\n  temperature: hot\n' })).problems);
    assert.equal(problem.file, 'config.user.yaml');
    assert.equal(problem.field, 'llm.temperature');
    assert.match(problem.message, /must be a number/);
    assert.match(problem.message, /\(got "hot"\)/);
  });

  test('out of range: llm.temperature: 3', async () => {
    const problem = only((await load({ 'config.user.yaml': 'llm:\n  temperature: 3\n' })).problems);
    assert.equal(formatProblem(problem), 'config.user.yaml: llm.temperature must be <= 2 (got 3)');
  });

  test('broken YAML names the file and the line', async () => {
    // Line 3 is the broken one.
    const problem = only((await load({ 'config.user.yaml': 'llm:\n  model: x\n  temperature: 1: 2\n' })).problems);
    assert.equal(problem.file, 'config.user.yaml');
    assert.equal(problem.field, '');
    assert.match(problem.message, /^is not valid YAML \(line 3\)/);
  });

  test('a list instead of a mapping', async () => {
    const problem = only((await load({ 'config.user.yaml': '- llm\n- concurrency\n' })).problems);
    assert.equal(problem.file, 'config.user.yaml');
    assert.equal(problem.field, '');
    assert.match(problem.message, /must be a YAML mapping/);
  });

  test('an empty or comment-only config.user.yaml is fine', async () => {
    assert.deepEqual((await load({ 'config.user.yaml': '# nothing yet\n' })).problems, []);
  });

  test('a bad value in config.runtime.yaml is blamed on config.runtime.yaml', async () => {
    const problem = only((await load({ 'config.runtime.yaml': 'concurrency:\n  max_total: 0\n' })).problems);
    assert.equal(formatProblem(problem), 'config.runtime.yaml: concurrency.max_total must be an integer >= 1 (got 0)');
  });

  test('default_agent naming a missing agent', async () => {
    const problem = only((await load({ 'config.user.yaml': 'default_agent: ghost\n' })).problems);
    assert.equal(problem.file, 'config.user.yaml');
    assert.equal(problem.field, 'default_agent');
    assert.match(problem.message, /"ghost"/);
    assert.match(problem.message, /does not exist/);
    assert.match(problem.message, /cookie, pickle/);
  });

  test(
    'default_agent set in config.runtime.yaml is blamed on config.runtime.yaml',
    async () => {
      const problem = only((await load({ 'config.runtime.yaml': 'default_agent: ghost\n' })).problems);
      assert.equal(problem.file, 'config.runtime.yaml');
      assert.equal(problem.field, 'default_agent');
    },
  );

  test('a routing binding to a missing agent names the binding index', async () => {
    const problem = only(
      (
        await load({
          'config.user.yaml': 'routing:\n  bindings:\n    - { agent: pickle, value: "platform-cli:.*" }\n    - { agent: ghost, value: "platform-ws:.*" }\n',
        })
      ).problems,
    );
    assert.equal(problem.file, 'config.user.yaml');
    assert.equal(problem.field, 'routing.bindings.1.agent');
    assert.match(problem.message, /"ghost"/);
    assert.match(problem.message, /does not exist/);
  });

  test('a bad binding from config.runtime.yaml is blamed on it, indexed within that file', async () => {
    const problem = only(
      (
        await load({
          'config.user.yaml': 'routing:\n  bindings:\n    - { agent: pickle, value: "a" }\n    - { agent: cookie, value: "b" }\n',
          'config.runtime.yaml': 'routing:\n  bindings:\n    - { agent: ghost, value: "c" }\n',
        })
      ).problems,
    );
    assert.equal(problem.file, 'config.runtime.yaml');
    assert.equal(problem.field, 'routing.bindings.0.agent');
  });

  test('a routing binding with an invalid regex', async () => {
    const problem = only((await load({ 'config.user.yaml': 'routing:\n  bindings:\n    - { agent: pickle, value: "platform-cli:(" }\n' })).problems);
    assert.equal(problem.file, 'config.user.yaml');
    assert.equal(problem.field, 'routing.bindings.0.value');
    assert.match(problem.message, /not a valid regular expression/);
    assert.match(problem.message, /platform-cli:\(/, 'shows the pattern that was given');
  });
});

describe('all problems at once', () => {
  test('every broken file and field is reported, not just the first', async () => {
    const { problems } = await load({
      ...cookieWith('name: Cookie\nmax_concurrency: 0'),
      'config.user.yaml': 'concurrency:\n  max_totl: 4\nllm:\n  temperature: hot\n',
      'config.runtime.yaml': 'api:\n  port: -5\n',
      'skills/notes/SKILL.md': '---\nname: notes\n---\nbody\n',
      'crons/tick/CRON.md': cron('name: Tick\nagent: pickle\nschedule: every minute'),
      'agents/Bad/AGENT.md': agentMd('name: Bad'),
    });
    find(problems, COOKIE, 'max_concurrency');
    find(problems, 'config.user.yaml', 'concurrency.max_totl');
    find(problems, 'config.user.yaml', 'llm.temperature');
    find(problems, 'config.runtime.yaml', 'api.port');
    find(problems, 'skills/notes/SKILL.md', 'description');
    find(problems, 'crons/tick/CRON.md', 'schedule');
    find(problems, 'agents/Bad', '');
    assert.equal(problems.length, 7, problems.map(formatProblem).join('\n'));
  });

  test('cross-reference problems are all reported together', async () => {
    const { problems } = await load({
      'config.user.yaml': 'default_agent: ghost\nrouting:\n  bindings:\n    - { agent: phantom, value: "x(" }\n',
      'crons/tick/CRON.md': cron('name: Tick\nagent: spook\nschedule: "* * * * *"'),
      ...cookieWith('name: Cookie\nbogus: 1'),
    });
    find(problems, 'config.user.yaml', 'default_agent');
    find(problems, 'config.user.yaml', 'routing.bindings.0.agent');
    find(problems, 'config.user.yaml', 'routing.bindings.0.value');
    find(problems, 'crons/tick/CRON.md', 'agent');
    find(problems, COOKIE, 'bogus');
    assert.equal(problems.length, 5, problems.map(formatProblem).join('\n'));
  });

  test(
    'a cron naming an unknown agent is still reported when config.user.yaml is also broken',
    async () => {
      const { problems } = await load({
        'config.user.yaml': 'concurrency:\n  max_totl: 4\n',
        'crons/tick/CRON.md': cron('name: Tick\nagent: ghost\nschedule: "* * * * *"'),
      });
      find(problems, 'config.user.yaml', 'concurrency.max_totl');
      find(problems, 'crons/tick/CRON.md', 'agent');
    },
  );

  test('requireWorkspace throws one ConfigError listing every problem', async () => {
    const ws = await makeWorkspace({
      ...cookieWith('name: Cookie\nmax_concurrency: -1'),
      'skills/notes/SKILL.md': '---\nname: notes\n---\nbody\n',
    });
    try {
      const { problems } = await loadWorkspace(ws.dir);
      assert.equal(problems.length, 2);
      await assert.rejects(requireWorkspace(ws.dir), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.code, 'config_invalid');
        assert.deepEqual(err.problems, problems);
        assert.equal(err.message, problems.map(formatProblem).join('\n'));
        assert.match(err.message, /agents\/cookie\/AGENT\.md: max_concurrency must be an integer >= 1 \(got -1\)/);
        assert.match(err.message, /skills\/notes\/SKILL\.md: description is required/);
        return true;
      });
    } finally {
      await ws.cleanup();
    }
  });

  test('requireWorkspace on a missing folder throws a ConfigError naming it', async () => {
    const missing = join('/nonexistent', `brine-${process.pid}`);
    await assert.rejects(requireWorkspace(missing), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems[0]?.file, missing);
      assert.match(err.message, /not a workspace folder/);
      return true;
    });
  });
});

describe('valid workspace, defaults and merging', () => {
  test('the default workspace has no problems, 2 agents and 2 skills', async () => {
    const ws = await makeWorkspace();
    try {
      const { problems, snapshot } = await loadWorkspace(ws.dir);
      assert.deepEqual(problems, []);
      assert.ok(snapshot);
      assert.equal(snapshot.root, ws.dir);
      assert.deepEqual([...snapshot.agents.keys()].sort(), ['cookie', 'pickle']);
      assert.equal(snapshot.agents.get('pickle')?.maxConcurrency, 3);
      assert.equal(snapshot.agents.get('cookie')?.maxConcurrency, 1);
      assert.equal(snapshot.agents.get('pickle')?.allowSkills, true);
      assert.equal(snapshot.agents.get('cookie')?.file, COOKIE);
      assert.ok(snapshot.agents.get('pickle')?.soul, 'SOUL.md beside AGENT.md is loaded');
      assert.equal(snapshot.skills.size, 2);
      assert.deepEqual([...snapshot.skills.keys()].sort(), ['cron-ops', 'skill-creator']);
      assert.equal(snapshot.crons.size, 0);
      const again = await requireWorkspace(ws.dir);
      assert.equal(again.agents.size, 2);
    } finally {
      await ws.cleanup();
    }
  });

  test('defaults apply when no config file exists', async () => {
    const { problems, snapshot } = await load({});
    assert.deepEqual(problems, []);
    const config = snapshot!.config;
    assert.equal(config.concurrency.max_total, 16);
    assert.equal(config.concurrency.per_source, 0);
    assert.equal(config.concurrency.queue_limit, 100);
    assert.equal(config.llm.model, 'gpt-4o-mini');
    assert.equal(config.llm.temperature, 0.7);
    assert.equal(config.llm.base_url, null);
    assert.equal(config.default_agent, 'pickle');
    assert.deepEqual(config.routing.bindings, []);
    assert.deepEqual(config.tools.bash.allowed_sources, ['platform-cli:.*']);
    assert.equal(config.api.port, 8787);
  });

  test('an agent without max_concurrency defaults to 1', async () => {
    const { problems, snapshot } = await load(cookieWith('name: Cookie'));
    assert.deepEqual(problems, []);
    assert.equal(snapshot!.agents.get('cookie')?.maxConcurrency, 1);
  });

  test('merge order: defaults <- config.user.yaml <- config.runtime.yaml', async () => {
    const { problems, snapshot } = await load({
      'config.user.yaml': [
        'default_agent: cookie',
        'llm: { model: user-model, temperature: 0.2 }',
        'concurrency: { max_total: 4, per_source: 2 }',
        'tools: { bash: { allowed_sources: ["user:.*"] } }',
        'routing:',
        '  bindings:',
        '    - { agent: cookie, value: "u1" }',
        '    - { agent: pickle, value: "u2" }',
        '',
      ].join('\n'),
      'config.runtime.yaml': [
        'default_agent: pickle',
        'llm: { model: runtime-model }',
        'concurrency: { max_total: 8 }',
        'tools: { bash: { allowed_sources: ["runtime:.*"] } }',
        'routing:',
        '  bindings:',
        '    - { agent: pickle, value: "r1" }',
        '',
      ].join('\n'),
    });
    assert.deepEqual(problems, []);
    const config = snapshot!.config;
    assert.equal(config.default_agent, 'pickle', 'runtime wins for scalars');
    assert.equal(config.llm.model, 'runtime-model', 'runtime wins for scalars');
    assert.equal(config.llm.temperature, 0.2, 'user value kept where runtime is silent');
    assert.equal(config.llm.max_tokens, 2048, 'default kept where both are silent');
    assert.equal(config.concurrency.max_total, 8);
    assert.equal(config.concurrency.per_source, 2);
    assert.deepEqual(config.tools.bash.allowed_sources, ['runtime:.*'], 'other lists are replaced');
    assert.deepEqual(
      config.routing.bindings.map((b) => b.value),
      ['u1', 'u2', 'r1'],
      'bindings from both files, user first',
    );
  });

  test('user value beats the default', async () => {
    const { snapshot } = await load({ 'config.user.yaml': 'llm:\n  model: llama3.1\nconcurrency:\n  max_total: 2\n' });
    assert.equal(snapshot!.config.llm.model, 'llama3.1');
    assert.equal(snapshot!.config.concurrency.max_total, 2);
  });

  test('bindings only in config.runtime.yaml are used', async () => {
    const { snapshot } = await load({ 'config.runtime.yaml': 'routing:\n  bindings:\n    - { agent: cookie, value: "platform-ws:mem" }\n' });
    assert.deepEqual(snapshot!.config.routing.bindings, [{ agent: 'cookie', value: 'platform-ws:mem' }]);
  });

  test(
    'config.runtime.yaml may override one key of a block set in config.user.yaml',
    async () => {
      const { problems, snapshot } = await load({
        'config.user.yaml': 'tools:\n  websearch: { provider: searxng, base_url: "http://127.0.0.1:8888" }\n',
        'config.runtime.yaml': 'tools:\n  websearch: { max_results: 3 }\n',
      });
      assert.deepEqual(problems, []);
      assert.equal(snapshot!.config.tools.websearch?.max_results, 3);
      assert.equal(snapshot!.config.tools.websearch?.provider, 'searxng');
    },
  );
});

describe('templates', () => {
  test('renderTemplate substitutes known names and leaves unknown {{names}} alone', () => {
    const text = 'Workspace {{workspace}}, again {{ workspace }}; memories at {{memories_path}}; {{ unknown_thing }}; {{not a name}}';
    assert.equal(
      renderTemplate(text, { workspace: '/ws', memories_path: 'memories/' }),
      'Workspace /ws, again /ws; memories at memories/; {{ unknown_thing }}; {{not a name}}',
    );
    assert.equal(renderTemplate('{{a}}{{b}}', { a: '{{b}}' }), '{{b}}{{b}}', 'substituted text is not re-rendered');
    assert.equal(renderTemplate('no templates', {}), 'no templates');
  });
});

describe('nothing is lost', () => {
  test('loading a workspace with bad files modifies or deletes nothing on disk', async () => {
    const ws = await makeWorkspace({
      ...cookieWith('name: Cookie\nmax_concurrency: 0\nmax_concurency: 2'),
      'config.user.yaml': 'llm:\n  model: [broken\n',
      'config.runtime.yaml': '- not\n- a mapping\n',
      'skills/notes/SKILL.md': '---\nname: notes\n---\nmy notes skill\n',
      'crons/tick/CRON.md': cron('name: Tick\nagent: ghost\nschedule: every minute'),
      'agents/Upper/AGENT.md': agentMd('name: Upper'),
      'agents/nofront/AGENT.md': 'plain text, no frontmatter\n',
      'memories/topics/cats.md': '# Cats\n- likes naps\n',
    });
    try {
      const before = await tree(ws.dir);
      assert.ok(Object.keys(before).length >= 10);
      const { problems } = await loadWorkspace(ws.dir);
      assert.ok(problems.length >= 6, problems.map(formatProblem).join('\n'));
      await assert.rejects(requireWorkspace(ws.dir), ConfigError);
      assert.deepEqual(await tree(ws.dir), before);
    } finally {
      await ws.cleanup();
    }
  });
});

describe('routing: routeSource', () => {
  const exact: Binding = { agent: 'exact', value: 'platform-cli:alice' };
  const regex: Binding = { agent: 'regex', value: 'platform-cli:.*' };
  const wildcard: Binding = { agent: 'wild', value: '.*' };

  function permutations<T>(items: T[]): T[][] {
    if (items.length <= 1) return [items];
    return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
  }

  test('exact beats regex beats wildcard, regardless of order', () => {
    const orders = permutations([exact, regex, wildcard]);
    assert.equal(orders.length, 6);
    for (const bindings of orders) {
      const order = bindings.map((b) => b.agent).join(',');
      assert.equal(routeSource('platform-cli:alice', bindings, 'default'), 'exact', order);
      assert.equal(routeSource('platform-cli:bob', bindings, 'default'), 'regex', order);
      assert.equal(routeSource('platform-ws:1', bindings, 'default'), 'wild', order);
    }
  });

  test('"*" and ".+" are wildcards too', () => {
    for (const value of ['*', '.+']) {
      const bindings = [{ agent: 'wild', value }, regex];
      assert.equal(routeSource('platform-cli:bob', bindings, 'default'), 'regex', value);
      assert.equal(routeSource('cron:daily', bindings, 'default'), 'wild', value);
    }
  });

  test('among equals, the first listed wins', () => {
    const a: Binding = { agent: 'a', value: 'platform-slack:.*' };
    const b: Binding = { agent: 'b', value: 'platform-slack:U1:.*' };
    assert.equal(routeSource('platform-slack:U1:C1:1.2', [a, b], 'default'), 'a');
    assert.equal(routeSource('platform-slack:U1:C1:1.2', [b, a], 'default'), 'b');
    const x: Binding = { agent: 'x', value: 'platform-cli:alice' };
    assert.equal(routeSource('platform-cli:alice', [x, exact], 'default'), 'x');
    assert.equal(routeSource('platform-cli:alice', [exact, x], 'default'), 'exact');
    const w1: Binding = { agent: 'w1', value: '.*' };
    const w2: Binding = { agent: 'w2', value: '*' };
    assert.equal(routeSource('anything', [w1, w2], 'default'), 'w1');
    assert.equal(routeSource('anything', [w2, w1], 'default'), 'w2');
  });

  test('no match goes to the default agent', () => {
    assert.equal(routeSource('platform-discord:1:2', [exact, regex], 'pickle'), 'pickle');
    assert.equal(routeSource('platform-discord:1:2', [], 'cookie'), 'cookie');
  });

  test('bindings are full matches, not substring matches', () => {
    const a: Binding = { agent: 'a', value: 'platform-cli:a' };
    assert.equal(routeSource('platform-cli:a', [a], 'default'), 'a');
    assert.equal(routeSource('platform-cli:ab', [a], 'default'), 'default');
    assert.equal(routeSource('xplatform-cli:a', [a], 'default'), 'default');
    const r: Binding = { agent: 'r', value: 'platform-cli:a.' };
    assert.equal(routeSource('platform-cli:ab', [r], 'default'), 'r');
    assert.equal(routeSource('platform-cli:abc', [r], 'default'), 'default');
    const alt: Binding = { agent: 'alt', value: 'cron:a|cron:b' };
    assert.equal(routeSource('cron:b', [alt], 'default'), 'alt');
    assert.equal(routeSource('cron:bb', [alt], 'default'), 'default', 'alternation is anchored as a whole');
    assert.equal(routeSource('xcron:a', [alt], 'default'), 'default', 'alternation is anchored as a whole');
  });

  test('an invalid binding is skipped, not thrown', () => {
    const bad: Binding = { agent: 'bad', value: 'platform-cli:(' };
    assert.equal(routeSource('platform-cli:(', [bad, regex], 'default'), 'regex');
  });
});

test('tools.bash.allowed_sources entries must be valid regular expressions', async () => {
  const { problems } = await load({ 'config.user.yaml': 'tools:\n  bash:\n    allowed_sources: ["platform-cli:.*", "x)|(.*"]\n' });
  const problem = find(problems, 'config.user.yaml', 'tools.bash.allowed_sources.1');
  assert.match(problem.message, /not a valid regular expression/);
});
