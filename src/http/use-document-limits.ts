/**
 * Bounds a GraphQL document before it is parsed: its size in bytes first (a
 * constant-time check on the string), then its tokens (graphql-js `parse`
 * stops at `maxTokens`). Parsing and validating cost time on the event loop in
 * proportion to the document (and some validation rules more than that), so an
 * anonymous caller must not be able to hand the node a megabyte of query.
 * With `http.protectreads` every operation needs the admin token: it is
 * checked here, before any parsing.
 */
import { GraphQLError, parse } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** Limits of {@link useDocumentLimits}. */
export interface DocumentLimits {
  /** Largest document, UTF-8 bytes. */
  maxBytes: number;
  /** Most tokens (names, punctuation, values; comments are not tokens). */
  maxTokens: number;
}

/** Defaults: far above any real operation (GraphiQL's introspection query is ~2 KB and ~600 tokens). */
export const DEFAULT_DOCUMENT_LIMITS: DocumentLimits = { maxBytes: 64 * 1024, maxTokens: 5_000 };

const tooLarge = (message: string): GraphQLError =>
  new GraphQLError(message, { extensions: { code: 'QUERY_TOO_LARGE', http: { status: 413 } } });

/**
 * The yoga plugin. `authorizedBeforeParse` (set with `protectreads`) tells from the
 * initial context (request headers, graphql-ws connection params) whether the caller
 * may run anything at all; when it returns false nothing is parsed.
 */
export function useDocumentLimits(
  limits: DocumentLimits = DEFAULT_DOCUMENT_LIMITS,
  authorizedBeforeParse: ((context: unknown) => boolean) | null = null,
): Plugin {
  return {
    onParse({ context, params, setParseFn }) {
      if (authorizedBeforeParse !== null && !authorizedBeforeParse(context)) {
        throw new GraphQLError('this operation needs the admin token (Authorization: Bearer …)', {
          extensions: { code: 'UNAUTHORIZED', http: { status: 401 } },
        });
      }
      const source: unknown = params.source;
      const text = typeof source === 'string' ? source : String((source as { body?: unknown } | null)?.body ?? '');
      // A string's UTF-16 length is at most its UTF-8 byte length: only a document near the bound needs counting.
      if (text.length > limits.maxBytes || (text.length * 3 > limits.maxBytes && Buffer.byteLength(text) > limits.maxBytes)) {
        throw tooLarge(`query is larger than ${limits.maxBytes} bytes`);
      }
      setParseFn((src, options) => {
        try {
          return parse(src, { ...(options as object), maxTokens: limits.maxTokens });
        } catch (err) {
          if (err instanceof GraphQLError && / \d+ tokens\. Parsing aborted/.test(err.message)) {
            throw tooLarge(`query has more than ${limits.maxTokens} tokens`);
          }
          throw err;
        }
      });
    },
  };
}
