// The core (src/) must never import an adapter or a platform SDK: adapters
// depend on the core, never the other way round. This test reads every import
// in src/ and fails naming the file and the import if that rule is broken.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const FORBIDDEN = [/(^|\/)adapters\//, /^discord\.js$/, /^@discordjs\//, /^@slack\//];

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await tsFiles(path)));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

test('src/ imports no adapter and no platform SDK', async () => {
  const violations: string[] = [];
  const files = await tsFiles(join(root, 'src'));
  assert.ok(files.length > 20, 'expected to scan the core sources');
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    for (const match of text.matchAll(/(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const spec = match[1] ?? match[2] ?? '';
      if (FORBIDDEN.some((re) => re.test(spec))) violations.push(`${relative(root, file)} imports ${spec}`);
    }
  }
  assert.deepEqual(violations, []);
});
