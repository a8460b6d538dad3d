/**
 * Compiles `pattern` as a regex that must match a whole string (`^(?:...)$`).
 * The pattern is compiled alone first, so an unbalanced value such as
 * `x)|(.*` is rejected instead of escaping the anchors. Throws SyntaxError.
 */
export function fullMatchRegex(pattern: string): RegExp {
  new RegExp(pattern);
  return new RegExp(`^(?:${pattern})$`);
}
