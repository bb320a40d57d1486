/**
 * GraphQL over HTTP (graphql-yoga) and over WebSocket (graphql-ws) on the same
 * path, /graphql, with GraphiQL served from the node itself (no CDN).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { GraphQLError } from 'graphql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { schema, type GraphQLContext } from '../../resolvers/index.js';
import { databaseUnavailable, isDatabaseUnavailable } from '../db/unavailable.js';
import { expectedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Services } from '../services/index.js';
import { useQueryLimits } from './use-query-limits.js';
import { DEFAULT_DOCUMENT_LIMITS, useDocumentLimits, type DocumentLimits } from './use-document-limits.js';
import { bearerMatches, isLocalCaller, mayMutate, useAdminToken, type AdminPolicy } from './admin-token.js';
import { GraphQLWsGuard, DEFAULT_WS_LIMITS, type WsLimits } from './graphql-ws-guard.js';
import { useCsrfPrevention } from './use-csrf-prevention.js';

import { GRAPHQL_PATH } from './graphql-path.js';

export { GRAPHQL_PATH };

/** Bounds of the GraphQL endpoint against anonymous load (`http.maxquery*`, `http.ws*`). */
export interface GraphQLLimits {
  document: DocumentLimits;
  ws: WsLimits;
}

const DEFAULT_GRAPHQL_LIMITS: GraphQLLimits = { document: DEFAULT_DOCUMENT_LIMITS, ws: DEFAULT_WS_LIMITS };

export interface GraphQLEndpoint {
  yoga: YogaServerInstance<Record<string, unknown>, GraphQLContext>;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): Promise<void>;
}

/** Maps expected errors to `extensions.code`; masks and logs everything else. */
function maskError(log: Logger) {
  return (error: unknown): Error => {
    // graphql-js quotes the offending value when coercing variables ("Variable "$secret"
    // got invalid value …"): it may be a secret, so the value is dropped.
    const variable = error instanceof GraphQLError ? /^Variable "\$([A-Za-z0-9_]+)" got invalid value/.exec(error.message) : null;
    if (error instanceof GraphQLError && variable) {
      return new GraphQLError(`Variable "$${variable[1] ?? ''}" got an invalid value`, {
        nodes: error.nodes,
        extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
      });
    }
    const original = error instanceof GraphQLError ? error.originalError : error;
    const expected = expectedError(original);
    if (expected && error instanceof GraphQLError) {
      return new GraphQLError(expected.message, {
        nodes: error.nodes,
        path: error.path,
        extensions: { code: expected.code },
      });
    }
    if (error instanceof GraphQLError && !error.originalError) {
      // Yoga's request parser copies JSON.parse's message, which quotes the body, into
      // extensions.originalError: drop it.
      if (!('originalError' in error.extensions)) return error;
      const { originalError: _quoted, ...extensions } = error.extensions;
      return new GraphQLError(error.message, { nodes: error.nodes, path: error.path, extensions });
    }
    if (isDatabaseUnavailable(original)) {
      log.warn({ err: (original as Error).message }, 'database unavailable');
      const e = databaseUnavailable();
      return new GraphQLError(e.message, {
        ...(error instanceof GraphQLError ? { nodes: error.nodes, path: error.path } : {}),
        extensions: { code: e.code },
      });
    }
    log.error({ err: original }, 'unexpected error in GraphQL resolver');
    return new GraphQLError('Unexpected error.', {
      ...(error instanceof GraphQLError ? { nodes: error.nodes, path: error.path } : {}),
      extensions: { code: 'INTERNAL' },
    });
  };
}

interface InitialContext {
  request?: Request;
  req?: IncomingMessage;
  connectionParams?: Record<string, unknown>;
}

export function createGraphQLEndpoint(
  services: Services,
  log: Logger,
  policy: AdminPolicy,
  limits: GraphQLLimits = DEFAULT_GRAPHQL_LIMITS,
  extraPlugins: Plugin[] = [],
): GraphQLEndpoint {
  const authorization = (init: InitialContext): string | null => {
    const fromParams = init.connectionParams?.authorization ?? init.connectionParams?.Authorization;
    if (typeof fromParams === 'string') return fromParams;
    return init.request?.headers.get('authorization') ?? init.req?.headers.authorization ?? null;
  };
  const yoga = createYoga<Record<string, unknown>, GraphQLContext>({
    schema,
    graphqlEndpoint: GRAPHQL_PATH,
    context: (init: InitialContext): GraphQLContext => ({
      services,
      authorized: mayMutate(policy, authorization(init), init.req !== undefined && isLocalCaller(init.req)),
    }),
    maskedErrors: { maskError: maskError(log) },
    graphiql: { title: `stream-cascade · ${services.node.name}`, subscriptionsProtocol: 'WS' },
    // GraphiQL's bundled assets are ~18 MB of script (~40 MB of memory once loaded):
    // loaded on the first page view, not at start.
    renderGraphiQL: async (o) => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(o),
    landingPage: false,
    // No CORS headers: the API is for same-origin pages (GraphiQL, the console) and non-browser clients.
    cors: false,
    plugins: [
      // First, so they see every operation, refused ones included.
      ...extraPlugins,
      useCsrfPrevention(),
      // With protectreads every operation needs the token: checked before the document is parsed.
      useDocumentLimits(
        limits.document,
        policy.token !== null && policy.protectReads ? (ctx) => bearerMatches(policy, authorization(ctx as InitialContext)) : null,
      ),
      useQueryLimits(),
      useAdminToken(policy),
    ],
    logging: {
      debug: (...a: unknown[]) => log.debug({ yoga: a }, 'yoga'),
      info: (...a: unknown[]) => log.debug({ yoga: a }, 'yoga'),
      warn: (...a: unknown[]) => log.warn({ yoga: a }, 'yoga'),
      // Yoga logs the original of every error maskError replaced; maskError logs the
      // unexpected ones itself, and the others are the caller's (and may quote input).
      error: (...a: unknown[]) => {
        const rest = a.filter((x) => !(x instanceof GraphQLError));
        if (rest.length > 0) log.error({ yoga: rest }, 'yoga');
      },
    },
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  const guard = new GraphQLWsGuard(limits.ws, log);
  const disposable = useServer(
    {
      connectionInitWaitTimeout: limits.ws.initTimeoutMs,
      onConnect: (ctx) => guard.onConnect(ctx),
      onClose: (ctx) => guard.onClose(ctx),
      execute: (args) => (args.rootValue as { execute: typeof import('graphql').execute }).execute(args),
      subscribe: (args) => (args.rootValue as { subscribe: typeof import('graphql').subscribe }).subscribe(args),
      onSubscribe: async (ctx, _id, params) => {
        const { schema: s, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          connectionParams: ctx.connectionParams,
          params,
        });
        let document;
        try {
          document = parse(params.query);
        } catch (err) {
          return [err instanceof GraphQLError ? err : new GraphQLError(String(err))];
        }
        const errors = validate(s, document);
        if (errors.length > 0) return errors;
        return {
          schema: s,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
      },
    },
    wss,
  );

  return {
    yoga,
    handleUpgrade(req, socket, head) {
      if (!guard.admit(req, socket)) return;
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    },
    async close() {
      guard.close();
      for (const c of wss.clients) c.terminate();
      await disposable.dispose();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}
