/**
 * Optional admin protection (`http.token`): when set, every mutating REST
 * call, every GraphQL mutation and subscription, and /api/relay need
 * `Authorization: Bearer TOKEN` (graphql-ws: the same header on the upgrade,
 * or `{"authorization": "Bearer TOKEN"}` as connection params). With
 * `http.protectreads` reads need it too.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { GraphQLError, Kind, type DocumentNode, type OperationTypeNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';

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

/** Whether a REST call with this method needs the token. */
export function restNeedsToken(policy: AdminPolicy, method: string | undefined): boolean {
  if (policy.token === null) return false;
  const reading = method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
  return !reading || policy.protectReads;
}

function operationType(doc: DocumentNode, name: string | null | undefined): OperationTypeNode | null {
  for (const d of doc.definitions) {
    if (d.kind === Kind.OPERATION_DEFINITION && (!name || d.name?.value === name)) return d.operation;
  }
  return null;
}

function needs(policy: AdminPolicy, op: OperationTypeNode | null): boolean {
  if (policy.token === null) return false;
  return op !== 'query' || policy.protectReads;
}

const unauthorized = (): GraphQLError =>
  new GraphQLError('this operation needs the admin token (Authorization: Bearer …)', { extensions: { code: 'UNAUTHORIZED' } });

/** The yoga plugin enforcing the policy; the context carries `authorized`. */
export function useAdminToken(policy: AdminPolicy): Plugin<{ authorized?: boolean }> {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const ctx = args.contextValue as { authorized?: boolean };
      if (needs(policy, operationType(args.document, args.operationName)) && !ctx.authorized) {
        setResultAndStopExecution({ errors: [unauthorized()] });
      }
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const ctx = args.contextValue as { authorized?: boolean };
      if (needs(policy, 'subscription' as OperationTypeNode) && !ctx.authorized) {
        setResultAndStopExecution({ errors: [unauthorized()] });
      }
    },
  };
}
