/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "query Upstream {\n  upstream {\n    server\n    state\n    since\n    rttMs\n    lastError\n    lastErrorCode\n    clientId\n    clientName\n    serverName\n    serverFingerprint\n  }\n}\n\nquery ClientLinks {\n  clients {\n    id\n    name\n    ip\n    online\n    version\n    connectedSince\n    rttMs\n    linkLastSeen\n  }\n}\n\nsubscription AuthRejected {\n  authRejected {\n    remoteAddress\n    name\n    code\n    reason\n  }\n}\n\nsubscription UpstreamChanged {\n  upstreamChanged {\n    state\n    lastError\n    clientId\n  }\n}": typeof types.UpstreamDocument,
    "fragment ClientFields on CascadeClient {\n  id\n  name\n  ip\n  online\n  autoregistered\n  hasSecret\n  version\n  connectedSince\n  lastSeen\n  createdTime\n  updatedTime\n}\n\nquery Clients($online: Boolean) {\n  clients(online: $online) {\n    ...ClientFields\n  }\n}\n\nquery Client($id: Int!) {\n  client(id: $id) {\n    ...ClientFields\n  }\n}\n\nmutation CreateClient($name: String!, $secret: String!) {\n  createClient(name: $name, secret: $secret) {\n    ...ClientFields\n  }\n}\n\nmutation UpdateClient($id: Int!, $name: String, $secret: String) {\n  updateClient(id: $id, name: $name, secret: $secret) {\n    ...ClientFields\n  }\n}\n\nmutation DeleteClient($id: Int!) {\n  deleteClient(id: $id) {\n    id\n    name\n  }\n}\n\nsubscription ClientChanged {\n  clientChanged {\n    kind\n    client {\n      id\n      name\n      online\n      ip\n    }\n  }\n}": typeof types.ClientFieldsFragmentDoc,
    "query NodeInfo {\n  node {\n    name\n    version\n    roles\n    uptimeSeconds\n    fingerprint\n  }\n}": typeof types.NodeInfoDocument,
    "fragment StreamFields on Stream {\n  path\n  video {\n    codec\n    width\n    height\n    fps\n  }\n  audio {\n    codec\n    sampleRate\n    channels\n  }\n  bitrateKbps\n  publisher {\n    protocol\n    remote\n  }\n  subscribers\n  startedAt\n}\n\nquery Streams {\n  streams {\n    ...StreamFields\n  }\n}\n\nquery Stream($path: String!) {\n  stream(path: $path) {\n    ...StreamFields\n  }\n}\n\nsubscription StreamChanged {\n  streamChanged {\n    kind\n    path\n    stream {\n      path\n      subscribers\n    }\n  }\n}": typeof types.StreamFieldsFragmentDoc,
};
const documents: Documents = {
    "query Upstream {\n  upstream {\n    server\n    state\n    since\n    rttMs\n    lastError\n    lastErrorCode\n    clientId\n    clientName\n    serverName\n    serverFingerprint\n  }\n}\n\nquery ClientLinks {\n  clients {\n    id\n    name\n    ip\n    online\n    version\n    connectedSince\n    rttMs\n    linkLastSeen\n  }\n}\n\nsubscription AuthRejected {\n  authRejected {\n    remoteAddress\n    name\n    code\n    reason\n  }\n}\n\nsubscription UpstreamChanged {\n  upstreamChanged {\n    state\n    lastError\n    clientId\n  }\n}": types.UpstreamDocument,
    "fragment ClientFields on CascadeClient {\n  id\n  name\n  ip\n  online\n  autoregistered\n  hasSecret\n  version\n  connectedSince\n  lastSeen\n  createdTime\n  updatedTime\n}\n\nquery Clients($online: Boolean) {\n  clients(online: $online) {\n    ...ClientFields\n  }\n}\n\nquery Client($id: Int!) {\n  client(id: $id) {\n    ...ClientFields\n  }\n}\n\nmutation CreateClient($name: String!, $secret: String!) {\n  createClient(name: $name, secret: $secret) {\n    ...ClientFields\n  }\n}\n\nmutation UpdateClient($id: Int!, $name: String, $secret: String) {\n  updateClient(id: $id, name: $name, secret: $secret) {\n    ...ClientFields\n  }\n}\n\nmutation DeleteClient($id: Int!) {\n  deleteClient(id: $id) {\n    id\n    name\n  }\n}\n\nsubscription ClientChanged {\n  clientChanged {\n    kind\n    client {\n      id\n      name\n      online\n      ip\n    }\n  }\n}": types.ClientFieldsFragmentDoc,
    "query NodeInfo {\n  node {\n    name\n    version\n    roles\n    uptimeSeconds\n    fingerprint\n  }\n}": types.NodeInfoDocument,
    "fragment StreamFields on Stream {\n  path\n  video {\n    codec\n    width\n    height\n    fps\n  }\n  audio {\n    codec\n    sampleRate\n    channels\n  }\n  bitrateKbps\n  publisher {\n    protocol\n    remote\n  }\n  subscribers\n  startedAt\n}\n\nquery Streams {\n  streams {\n    ...StreamFields\n  }\n}\n\nquery Stream($path: String!) {\n  stream(path: $path) {\n    ...StreamFields\n  }\n}\n\nsubscription StreamChanged {\n  streamChanged {\n    kind\n    path\n    stream {\n      path\n      subscribers\n    }\n  }\n}": types.StreamFieldsFragmentDoc,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Upstream {\n  upstream {\n    server\n    state\n    since\n    rttMs\n    lastError\n    lastErrorCode\n    clientId\n    clientName\n    serverName\n    serverFingerprint\n  }\n}\n\nquery ClientLinks {\n  clients {\n    id\n    name\n    ip\n    online\n    version\n    connectedSince\n    rttMs\n    linkLastSeen\n  }\n}\n\nsubscription AuthRejected {\n  authRejected {\n    remoteAddress\n    name\n    code\n    reason\n  }\n}\n\nsubscription UpstreamChanged {\n  upstreamChanged {\n    state\n    lastError\n    clientId\n  }\n}"): (typeof documents)["query Upstream {\n  upstream {\n    server\n    state\n    since\n    rttMs\n    lastError\n    lastErrorCode\n    clientId\n    clientName\n    serverName\n    serverFingerprint\n  }\n}\n\nquery ClientLinks {\n  clients {\n    id\n    name\n    ip\n    online\n    version\n    connectedSince\n    rttMs\n    linkLastSeen\n  }\n}\n\nsubscription AuthRejected {\n  authRejected {\n    remoteAddress\n    name\n    code\n    reason\n  }\n}\n\nsubscription UpstreamChanged {\n  upstreamChanged {\n    state\n    lastError\n    clientId\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment ClientFields on CascadeClient {\n  id\n  name\n  ip\n  online\n  autoregistered\n  hasSecret\n  version\n  connectedSince\n  lastSeen\n  createdTime\n  updatedTime\n}\n\nquery Clients($online: Boolean) {\n  clients(online: $online) {\n    ...ClientFields\n  }\n}\n\nquery Client($id: Int!) {\n  client(id: $id) {\n    ...ClientFields\n  }\n}\n\nmutation CreateClient($name: String!, $secret: String!) {\n  createClient(name: $name, secret: $secret) {\n    ...ClientFields\n  }\n}\n\nmutation UpdateClient($id: Int!, $name: String, $secret: String) {\n  updateClient(id: $id, name: $name, secret: $secret) {\n    ...ClientFields\n  }\n}\n\nmutation DeleteClient($id: Int!) {\n  deleteClient(id: $id) {\n    id\n    name\n  }\n}\n\nsubscription ClientChanged {\n  clientChanged {\n    kind\n    client {\n      id\n      name\n      online\n      ip\n    }\n  }\n}"): (typeof documents)["fragment ClientFields on CascadeClient {\n  id\n  name\n  ip\n  online\n  autoregistered\n  hasSecret\n  version\n  connectedSince\n  lastSeen\n  createdTime\n  updatedTime\n}\n\nquery Clients($online: Boolean) {\n  clients(online: $online) {\n    ...ClientFields\n  }\n}\n\nquery Client($id: Int!) {\n  client(id: $id) {\n    ...ClientFields\n  }\n}\n\nmutation CreateClient($name: String!, $secret: String!) {\n  createClient(name: $name, secret: $secret) {\n    ...ClientFields\n  }\n}\n\nmutation UpdateClient($id: Int!, $name: String, $secret: String) {\n  updateClient(id: $id, name: $name, secret: $secret) {\n    ...ClientFields\n  }\n}\n\nmutation DeleteClient($id: Int!) {\n  deleteClient(id: $id) {\n    id\n    name\n  }\n}\n\nsubscription ClientChanged {\n  clientChanged {\n    kind\n    client {\n      id\n      name\n      online\n      ip\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query NodeInfo {\n  node {\n    name\n    version\n    roles\n    uptimeSeconds\n    fingerprint\n  }\n}"): (typeof documents)["query NodeInfo {\n  node {\n    name\n    version\n    roles\n    uptimeSeconds\n    fingerprint\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment StreamFields on Stream {\n  path\n  video {\n    codec\n    width\n    height\n    fps\n  }\n  audio {\n    codec\n    sampleRate\n    channels\n  }\n  bitrateKbps\n  publisher {\n    protocol\n    remote\n  }\n  subscribers\n  startedAt\n}\n\nquery Streams {\n  streams {\n    ...StreamFields\n  }\n}\n\nquery Stream($path: String!) {\n  stream(path: $path) {\n    ...StreamFields\n  }\n}\n\nsubscription StreamChanged {\n  streamChanged {\n    kind\n    path\n    stream {\n      path\n      subscribers\n    }\n  }\n}"): (typeof documents)["fragment StreamFields on Stream {\n  path\n  video {\n    codec\n    width\n    height\n    fps\n  }\n  audio {\n    codec\n    sampleRate\n    channels\n  }\n  bitrateKbps\n  publisher {\n    protocol\n    remote\n  }\n  subscribers\n  startedAt\n}\n\nquery Streams {\n  streams {\n    ...StreamFields\n  }\n}\n\nquery Stream($path: String!) {\n  stream(path: $path) {\n    ...StreamFields\n  }\n}\n\nsubscription StreamChanged {\n  streamChanged {\n    kind\n    path\n    stream {\n      path\n      subscribers\n    }\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;