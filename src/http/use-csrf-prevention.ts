/**
 * CSRF prevention for GraphQL over HTTP: a POST is executed only when a browser would
 * have had to ask first (a CORS preflight, which this node never grants to other
 * origins): its Content-Type is not one a plain HTML form or a "simple" fetch can send,
 * or it carries one of {@link CSRF_HEADERS}. GET never runs mutations (yoga refuses them).
 */
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** Content types a cross-site page may send without a preflight (Fetch: CORS-safelisted). */
const SIMPLE_CONTENT_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);

/** Any of these headers marks a request as preflighted (no browser sends them cross-site unasked). */
const CSRF_HEADERS = ['x-graphql-yoga-csrf', 'apollo-require-preflight'] as const;

/** True when a browser could have sent this request from another site without a preflight. */
export function looksCrossSite(method: string, contentType: string | null, has: (header: string) => boolean): boolean {
  if (method !== 'POST') return false;
  if (CSRF_HEADERS.some(has)) return false;
  const essence = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return essence === '' || SIMPLE_CONTENT_TYPES.has(essence);
}

/** The yoga plugin: refuses such requests with 403 before anything is parsed. */
export function useCsrfPrevention(): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      if (!looksCrossSite(request.method, request.headers.get('content-type'), (h) => request.headers.has(h))) return;
      const error = new GraphQLError(
        `GraphQL POST needs Content-Type: application/json (or a ${CSRF_HEADERS.join(' / ')} header): refused as a possible cross-site request`,
        { extensions: { code: 'CSRF_REFUSED' } },
      );
      endResponse(
        new fetchAPI.Response(JSON.stringify({ errors: [error.toJSON()] }), {
          status: 403,
          headers: { 'content-type': 'application/json; charset=utf-8' },
        }),
      );
    },
  };
}
