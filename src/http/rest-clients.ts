/**
 * REST shims for the spec's client management API, calling ClientService:
 *   GET /api/cascade/clients, POST /api/cascade/clients,
 *   PUT /api/cascade/clients/{id}, DELETE /api/cascade/clients/{id}
 * Fields are snake_case as the spec shows them.
 */
import type { ClientRecord } from '../services/client.service.js';
import { AppError } from '../errors.js';
import { readJsonBody, sendOk } from './envelope.js';
import type { Route } from './router.js';

/** The spec's JSON shape of a client. */
function clientJson(c: ClientRecord): Record<string, unknown> {
  return {
    id: c.id,
    name: c.name,
    ip: c.ip,
    online: c.online,
    created_time: c.createdTime.toISOString(),
    updated_time: c.updatedTime.toISOString(),
  };
}

function parseId(text: string | undefined): number {
  if (text === undefined || !/^\d{1,9}$/.test(text)) throw new AppError('VALIDATION', `client id must be a positive integer, got "${text ?? ''}"`);
  return Number(text);
}

function parseOnline(q: URLSearchParams): boolean | undefined {
  const v = q.get('online');
  if (v === null) return undefined;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new AppError('VALIDATION', 'online must be true or false');
}

export const clientRoutes: Route[] = [
  {
    method: 'GET',
    pattern: /^\/api\/cascade\/clients$/,
    handler: async ({ res, url, services }) => {
      const list = await services.clients.list({ online: parseOnline(url.searchParams) });
      sendOk(res, list.map(clientJson));
    },
  },
  {
    method: 'POST',
    pattern: /^\/api\/cascade\/clients$/,
    handler: async ({ req, res, services }) => {
      const body = await readJsonBody(req);
      sendOk(res, clientJson(await services.clients.create(body)));
    },
  },
  {
    method: 'GET',
    pattern: /^\/api\/cascade\/clients\/([^/]+)$/,
    handler: async ({ res, params, services }) => {
      sendOk(res, clientJson(await services.clients.get(parseId(params[0]))));
    },
  },
  {
    method: 'PUT',
    pattern: /^\/api\/cascade\/clients\/([^/]+)$/,
    handler: async ({ req, res, params, services }) => {
      const id = parseId(params[0]);
      const body = await readJsonBody(req);
      sendOk(res, clientJson(await services.clients.update(id, body)));
    },
  },
  {
    method: 'DELETE',
    pattern: /^\/api\/cascade\/clients\/([^/]+)$/,
    handler: async ({ res, params, services }) => {
      sendOk(res, clientJson(await services.clients.delete(parseId(params[0]))));
    },
  },
];
