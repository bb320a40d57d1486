/**
 * Admin protection. With `http.token`, every mutating REST call, every GraphQL
 * mutation and subscription, and /api/relay need `Authorization: Bearer TOKEN`
 * (graphql-ws: the same header on the upgrade, or `{"authorization": "Bearer TOKEN"}`
 * as connection params); with `http.protectreads` reads need it too. Without a token,
 * mutations are accepted from local callers only (see {@link isLocalCaller}); reads,
 * subscriptions and media stay open.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { GraphQLError, Kind, type DocumentNode, type OperationTypeNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { isLoopback, RELAY_INTERNAL_HEADER } from './relay-target.js';

export interface AdminPolicy {
  token: string | null;
  protectReads: boolean;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** True when `header` ("Bearer X") carries the token, or when no token is configured. */
export function bearerMatches(policy: AdminPolicy, header: string | null | undefined): boolean {
  if (policy.token === null) return true;
  const m = /^Bearer\s+(.+)$/i.exec(header?.trim() ?? '');
  if (!m?.[1]) return false;
  return timingSafeEqual(digest(m[1]), digest(policy.token));
}

/** Headers a proxy (or this node's own API relay executor) adds: the real caller is elsewhere. */
const PROXIED_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip', RELAY_INTERNAL_HEADER.token, RELAY_INTERNAL_HEADER.caller];

/**
 * A caller on this host: a loopback peer that came through no proxy. A request that a
 * reverse proxy on this host passed on (Forwarded / X-Forwarded-For / X-Real-IP) or that
 * the API relay brought down from the upper node is not local.
 */
export function isLocalCaller(req: Pick<IncomingMessage, 'headers' | 'socket'>): boolean {
  if (!isLoopback(req.socket.remoteAddress ?? '')) return false;
  return PROXIED_HEADERS.every((h) => req.headers[h] === undefined);
}

/** Whether this caller may change things: the token when one is set, else only from this host. */
export function mayMutate(policy: AdminPolicy, header: string | null | undefined, local: boolean): boolean {
  return policy.token === null ? local : bearerMatches(policy, header);
}

/** Whether a REST call with this method is a mutation. */
export function isMutatingMethod(method: string | undefined): boolean {
  return !(method === 'GET' || method === 'HEAD' || method === 'OPTIONS');
}

/** Whether a REST call with this method needs the token. */
export function restNeedsToken(policy: AdminPolicy, method: string | undefined): boolean {
  if (policy.token === null) return false;
  return isMutatingMethod(method) || policy.protectReads;
}

/** The refusal of a mutation from another host on a node without a token. */
export const REMOTE_MUTATION_MESSAGE =
  'this node has no admin token (http.token): changes are accepted from this host only; set http.token and send Authorization: Bearer …';

function operationType(doc: DocumentNode, name: string | null | undefined): OperationTypeNode | null {
  for (const d of doc.definitions) {
    if (d.kind === Kind.OPERATION_DEFINITION && (!name || d.name?.value === name)) return d.operation;
  }
  return null;
}

function needs(policy: AdminPolicy, op: OperationTypeNode | null): boolean {
  if (policy.token === null) return op !== 'query' && op !== 'subscription';
  return op !== 'query' || policy.protectReads;
}

const refusal = (policy: AdminPolicy): GraphQLError =>
  policy.token === null
    ? new GraphQLError(REMOTE_MUTATION_MESSAGE, { extensions: { code: 'FORBIDDEN' } })
    : new GraphQLError('this operation needs the admin token (Authorization: Bearer …)', { extensions: { code: 'UNAUTHORIZED' } });

/**
 * The yoga plugin enforcing the policy; the context carries `authorized` (the token
 * matched, or none is set and the caller is local).
 */
export function useAdminToken(policy: AdminPolicy): Plugin<{ authorized?: boolean }> {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const ctx = args.contextValue as { authorized?: boolean };
      if (needs(policy, operationType(args.document, args.operationName)) && !ctx.authorized) {
        setResultAndStopExecution({ errors: [refusal(policy)] });
      }
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const ctx = args.contextValue as { authorized?: boolean };
      if (needs(policy, 'subscription' as OperationTypeNode) && !ctx.authorized) {
        setResultAndStopExecution({ errors: [refusal(policy)] });
      }
    },
  };
}
