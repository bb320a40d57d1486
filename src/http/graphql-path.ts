/** Where GraphQL, its WebSocket subscriptions and GraphiQL are served. */
export const GRAPHQL_PATH = '/graphql';
