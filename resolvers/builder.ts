/**
 * The one Pothos schema builder. Each domain file (node.ts, client.ts, ...)
 * adds its types and its query/mutation/subscription fields to it.
 */
import SchemaBuilder from '@pothos/core';
import { GraphQLError, Kind } from 'graphql';
import type { Services } from '../src/services/index.js';

export interface GraphQLContext {
  services: Services;
  /** The caller presented the admin token (or none is configured). */
  authorized: boolean;
}

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  Scalars: { DateTime: { Input: Date; Output: Date } };
  DefaultFieldNullability: false;
}>({ defaultFieldNullability: false });

builder.scalarType('DateTime', {
  description: 'An instant, as an ISO-8601 string in UTC.',
  serialize: (d) => d.toISOString(),
  parseValue: (v) => {
    const d = typeof v === 'string' ? new Date(v) : null;
    if (!d || Number.isNaN(d.getTime())) throw new GraphQLError('DateTime must be an ISO-8601 string');
    return d;
  },
  parseLiteral: (ast) => {
    const d = ast.kind === Kind.STRING ? new Date(ast.value) : null;
    if (!d || Number.isNaN(d.getTime())) throw new GraphQLError('DateTime must be an ISO-8601 string');
    return d;
  },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
