/**
 * Replaces `{{name}}` (spaces allowed inside the braces) with `vars[name]`.
 * Unknown names are left as written, so a prompt that talks about templates
 * literally is not mangled.
 */
export function renderTemplate(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (whole, name: string) => vars[name] ?? whole);
}
