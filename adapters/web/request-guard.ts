import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/** True for a loopback host name or address (`localhost`, `127.x.x.x`, `::1`). */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  return LOOPBACK_NAMES.has(host) || LOOPBACK_NAMES.has(bare) || (isIP(bare) === 4 && bare.startsWith('127.'));
}

/**
 * Refuses requests a web page on another site could make through the
 * user's browser. The agents behind this API can read and write workspace
 * files, so:
 * - DNS rebinding: while the API listens on loopback only, the `Host` header
 *   must name a loopback host (an attacker's domain resolving to 127.0.0.1
 *   would otherwise be same-origin with the API).
 * - Cross-site WebSocket: browsers send `Origin` on WebSocket upgrades and
 *   CORS does not apply to them, so an upgrade with an `Origin` must come
 *   from the page this server serves (same host and port). Clients that are
 *   not browsers send no `Origin` and are let through.
 * Returns why a request is refused, or null.
 */
export function refusal(headers: IncomingHttpHeaders, boundHost: string, upgrade: boolean): string | null {
  const host = headers.host;
  if (!host) return 'missing Host header';
  if (isLoopback(boundHost) && !isLoopback(hostName(host))) return `Host ${host} is not a loopback name; open the web chat via 127.0.0.1 or localhost`;
  const origin = headers.origin;
  if (upgrade && origin !== undefined) {
    let originHost: string;
    try {
      originHost = new URL(origin).host;
    } catch {
      return `malformed Origin ${origin}`;
    }
    if (originHost !== host) return `cross-origin WebSocket from ${origin} refused`;
  }
  return null;
}

/** The host name of a `Host` header value (`[::1]:8787` -> `[::1]`, `localhost:8787` -> `localhost`). */
function hostName(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon >= 0 ? host.slice(0, colon) : host;
}
