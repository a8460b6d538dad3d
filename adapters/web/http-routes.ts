import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BrineServer } from '../../src/server/brine-server.js';
import { describeError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { WEB_CHAT_PAGE } from './page.js';

/** One entry of `GET /agents`, for the web chat's agent picker. */
export interface AgentSummary {
  id: string;
  name: string;
  description: string;
  max_concurrency: number;
}

/** The agents of the workspace in force now. */
export function agentSummaries(server: BrineServer): AgentSummary[] {
  return [...server.runtime.snapshot().agents.values()].map((a) => ({ id: a.id, name: a.name, description: a.description, max_concurrency: a.maxConcurrency }));
}

type Route = (server: BrineServer) => Promise<{ type: string; body: string }> | { type: string; body: string };

const JSON_TYPE = 'application/json; charset=utf-8';
const json = (value: unknown) => ({ type: JSON_TYPE, body: JSON.stringify(value) });

/** The GET routes of the local API (DESIGN.md section 5). */
const ROUTES: Record<string, Route> = {
  '/': () => ({ type: 'text/html; charset=utf-8', body: WEB_CHAT_PAGE }),
  '/health': () => json({ ok: true }),
  '/status': (server) => json(server.status()),
  '/agents': (server) => json(agentSummaries(server)),
  '/metrics': async (server) => ({ type: server.metrics.contentType, body: await server.metrics.text() }),
};

/** Answers one plain HTTP request (WebSocket upgrades are handled elsewhere). */
export async function handleHttp(server: BrineServer, req: IncomingMessage, res: ServerResponse, logger: Logger): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  const route = ROUTES[path];
  if (!route) return reply(res, 404, json({ error: `no route ${path}; try /, /health, /status, /metrics, /agents or the WebSocket /ws` }));
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return reply(res, 405, json({ error: `${path} only answers GET` }));
  }
  try {
    reply(res, 200, await route(server), req.method === 'HEAD');
  } catch (err) {
    logger.error({ err, path }, 'local API request failed');
    reply(res, 500, json({ error: describeError(err) }));
  }
}

/** Writes a complete response; never cached (status and metrics are live, the page is tiny). */
export function reply(res: ServerResponse, status: number, content: { type: string; body: string }, headOnly = false): void {
  if (res.headersSent) return;
  res.writeHead(status, {
    'content-type': content.type,
    'content-length': Buffer.byteLength(content.body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(headOnly ? undefined : content.body);
}
