/**
 * A minimal method + path-pattern router for the REST shims, answering
 * unknown paths with 404 and wrong methods with 405 in the envelope.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Services } from '../services/index.js';
import { sendError } from './envelope.js';

interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: string[];
  services: Services;
  log: Logger;
}

export interface Route {
  method: string;
  pattern: RegExp;
  handler: (ctx: RouteContext) => Promise<void>;
}

export class Router {
  constructor(private readonly routes: Route[]) {}

  /** Handles the request if some route's pattern matches its path; returns false otherwise. */
  handle(ctx: Omit<RouteContext, 'params'>): boolean {
    const path = ctx.url.pathname;
    const matching = this.routes.filter((r) => r.pattern.test(path));
    if (matching.length === 0) return false;
    const route = matching.find((r) => r.method === ctx.req.method);
    if (!route) {
      ctx.res.setHeader('allow', matching.map((r) => r.method).join(', '));
      sendError(ctx.res, new AppError('METHOD_NOT_ALLOWED', `${ctx.req.method ?? '?'} is not allowed on ${path}`), ctx.log);
      return true;
    }
    if (!jsonOrNoBody(ctx.req)) {
      sendError(ctx.res, new AppError('UNSUPPORTED_MEDIA_TYPE', `${route.method} ${path} needs Content-Type: application/json`), ctx.log);
      return true;
    }
    const params = (route.pattern.exec(path) ?? []).slice(1).map(safeDecode);
    route.handler({ ...ctx, params }).catch((err: unknown) => sendError(ctx.res, err, ctx.log));
    return true;
  }
}

/**
 * A mutating request must say its body is JSON: a cross-site form or "simple" fetch
 * (text/plain, form encodings) cannot, so it cannot change anything. A DELETE without a
 * body needs no type (browsers preflight DELETE anyway).
 */
function jsonOrNoBody(req: IncomingMessage): boolean {
  const m = req.method;
  if (m === 'GET' || m === 'HEAD' || m === 'OPTIONS') return true;
  const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (m === 'DELETE' && !hasBody) return true;
  const essence = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  return essence === 'application/json';
}

function safeDecode(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}
