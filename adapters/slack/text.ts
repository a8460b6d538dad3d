/**
 * Slack's text encoding, both ways. Pure.
 *
 * Slack message text is "mrkdwn" with three characters escaped as HTML
 * entities (`&amp;`, `&lt;`, `&gt;`) and everything in angle brackets being
 * markup: `<@U123>` pings a user, `<!channel>` / `<!here>` ping everyone,
 * `<https://x|label>` is a link. So text from the model must be escaped
 * before it is posted (or it could forge those pings), and text from a user
 * is decoded before the model sees it.
 */

/**
 * Escapes `&`, `<` and `>` (Slack's three control characters), so the text
 * is shown as written: `<!channel>` arrives as the literal text, not a ping.
 */
export function escapeSlackText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Slack message text -> plain text for the model: markup becomes what a
 * person sees (`<@U1|ann>` -> `@ann`, `<#C1|general>` -> `#general`,
 * `<!here>` -> `@here`, `<https://x|docs>` -> `docs (https://x)`), then the
 * three entities are decoded.
 */
export function slackToPlainText(text: string): string {
  // Markup never contains a literal < or > (Slack escapes them inside), so a
  // simple bracket match is exact.
  const plain = text.replace(/<([^<>]*)>/g, (_all, inner: string) => markupToText(inner));
  return plain.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** One `<...>` token of Slack markup as the text a reader sees. */
function markupToText(inner: string): string {
  const bar = inner.indexOf('|');
  const target = bar >= 0 ? inner.slice(0, bar) : inner;
  const label = bar >= 0 ? inner.slice(bar + 1) : '';
  if (target.startsWith('@')) return label ? `@${label.replace(/^@/, '')}` : target;
  if (target.startsWith('#')) return label ? `#${label}` : target;
  if (target.startsWith('!')) {
    // <!here>, <!channel>, <!everyone>, <!subteam^S1|@team>, <!date^...|fallback>
    if (label) return label.startsWith('@') || target.startsWith('!date') ? label : `@${label}`;
    return `@${target.slice(1).split('^')[0]}`;
  }
  const url = target.startsWith('mailto:') ? target.slice('mailto:'.length) : target;
  return label && label !== url && label !== target ? `${label} (${url})` : url;
}
