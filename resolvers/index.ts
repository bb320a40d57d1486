/** Assembles the GraphQL schema from the domain files. */
import { lexicographicSortSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.js';
import './node.js';
import './client.js';
import './stream.js';
import './cascade.js';
import './forwarding.js';
import './topology.js';
import './cluster.js';

export type { GraphQLContext } from './builder.js';

/** The schema, sorted so its printed form is stable. */
export const schema: GraphQLSchema = lexicographicSortSchema(builder.toSchema());
