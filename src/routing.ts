import type { Binding } from './config/schema.js';
import { fullMatchRegex } from './util/full-match.js';

/** How specific a binding is; lower wins. */
const enum Rank {
  Exact = 0,
  Regex = 1,
  Wildcard = 2,
}

/** A binding ready to match source strings. */
export interface CompiledBinding {
  agent: string;
  value: string;
  rank: Rank;
  regex: RegExp;
}

const REGEX_CHARS = /[\\^$.*+?()[\]{}|]/;

/** Compiles a binding's value as a full-match regex; throws on an invalid pattern. */
export function compileBinding(binding: Binding): CompiledBinding {
  // A lone "*" is not a valid regex; accept it as the wildcard people expect.
  const wildcard = binding.value === '.*' || binding.value === '.+' || binding.value === '*';
  const regex = binding.value === '*' ? /^.*$/ : fullMatchRegex(binding.value);
  const rank = wildcard ? Rank.Wildcard : REGEX_CHARS.test(binding.value) ? Rank.Regex : Rank.Exact;
  return { agent: binding.agent, value: binding.value, rank, regex };
}

/**
 * Picks the agent for a new session's source: an exact binding beats a regex,
 * a regex beats a wildcard, and among equals the first listed wins; with no
 * match, `defaultAgent`. Invalid bindings are skipped (`brine check` reports them).
 */
export function routeSource(source: string, bindings: readonly Binding[], defaultAgent: string): string {
  let best: CompiledBinding | null = null;
  for (const binding of bindings) {
    let compiled: CompiledBinding;
    try {
      compiled = compileBinding(binding);
    } catch {
      continue;
    }
    if (!compiled.regex.test(source)) continue;
    if (!best || compiled.rank < best.rank) best = compiled;
  }
  return best?.agent ?? defaultAgent;
}
