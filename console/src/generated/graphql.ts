/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type ClientEventKind =
  | 'CREATED'
  | 'DELETED'
  | 'OFFLINE'
  | 'ONLINE'
  | 'UPDATED';

export type NodeRole =
  | 'CASCADE_CLIENT'
  | 'CASCADE_SERVER'
  | 'MEDIA';

export type PullRuleSource =
  | 'API'
  | 'CONFIG';

/** How a stream reached this node (LOCAL, PUSHED_IN, PULLED_IN) or leaves it (PUSHED_OUT, PULLED_OUT). */
export type StreamDirection =
  | 'LOCAL'
  | 'PULLED_IN'
  | 'PULLED_OUT'
  | 'PUSHED_IN'
  | 'PUSHED_OUT';

export type StreamEventKind =
  | 'PUBLISHED'
  | 'SUBSCRIBERS'
  | 'UNPUBLISHED'
  | 'UPDATED';

export type UpstreamState =
  | 'BACKOFF'
  | 'CONNECTING'
  | 'ONLINE'
  | 'REJECTED'
  | 'STOPPED';

export type ConsoleTopologyFieldsFragment = { name: string, self: boolean, online: boolean, rttMs: number | null, version: string | null, streams: Array<string> };

export type ConsoleTopologyTreeFragment = { name: string, self: boolean, online: boolean, rttMs: number | null, version: string | null, streams: Array<string>, children: Array<{ name: string, self: boolean, online: boolean, rttMs: number | null, version: string | null, streams: Array<string>, children: Array<{ name: string, self: boolean, online: boolean, rttMs: number | null, version: string | null, streams: Array<string>, children: Array<{ name: string, self: boolean, online: boolean, rttMs: number | null, version: string | null, streams: Array<string>, children: Array<{ name: string, self: boolean, online: boolean, rttMs: number | null, version: string | null, streams: Array<string> }> }> }> }> };

export type ConsoleNodeQueryVariables = Exact<{ [key: string]: never; }>;


export type ConsoleNodeQuery = { node: { name: string, version: string, roles: Array<NodeRole>, uptimeSeconds: number, security: { adminToken: boolean, protectReads: boolean, localMutationsOnly: boolean } } };

export type ConsoleTopologyQueryVariables = Exact<{ [key: string]: never; }>;


export type ConsoleTopologyQuery = { topology: { name: string, self: boolean, online: boolean, rttMs: number | null, version: string | null, streams: Array<string>, children: Array<{ name: string, self: boolean, online: boolean, rttMs: number | null, version: string | null, streams: Array<string>, children: Array<{ name: string, self: boolean, online: boolean, rttMs: number | null, version: string | null, streams: Array<string>, children: Array<{ name: string, self: boolean, online: boolean, rttMs: number | null, version: string | null, streams: Array<string>, children: Array<{ name: string, self: boolean, online: boolean, rttMs: number | null, version: string | null, streams: Array<string> }> }> }> }> } };

export type ConsoleTopologyChangedSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type ConsoleTopologyChangedSubscription = { topologyChanged: { name: string, self: boolean, online: boolean, rttMs: number | null, version: string | null, streams: Array<string>, children: Array<{ name: string, self: boolean, online: boolean, rttMs: number | null, version: string | null, streams: Array<string>, children: Array<{ name: string, self: boolean, online: boolean, rttMs: number | null, version: string | null, streams: Array<string>, children: Array<{ name: string, self: boolean, online: boolean, rttMs: number | null, version: string | null, streams: Array<string>, children: Array<{ name: string, self: boolean, online: boolean, rttMs: number | null, version: string | null, streams: Array<string> }> }> }> }> } };

export type ConsoleStreamFieldsFragment = { path: string, direction: StreamDirection, directions: Array<StreamDirection>, origin: string | null, chain: Array<string>, bitrateKbps: number, subscribers: number, onDemand: boolean, startedAt: string, video: { codec: string, width: number, height: number, fps: number } | null, audio: { codec: string, sampleRate: number, channels: number } | null, publisher: { protocol: string, remote: string } };

export type ConsoleStreamsQueryVariables = Exact<{ [key: string]: never; }>;


export type ConsoleStreamsQuery = { streams: Array<{ path: string, direction: StreamDirection, directions: Array<StreamDirection>, origin: string | null, chain: Array<string>, bitrateKbps: number, subscribers: number, onDemand: boolean, startedAt: string, video: { codec: string, width: number, height: number, fps: number } | null, audio: { codec: string, sampleRate: number, channels: number } | null, publisher: { protocol: string, remote: string } }> };

export type ConsoleStreamChangedSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type ConsoleStreamChangedSubscription = { streamChanged: { kind: StreamEventKind, path: string } };

export type ConsoleClientFieldsFragment = { id: number, name: string, online: boolean, ip: string | null, version: string | null, rttMs: number | null, autoregistered: boolean, hasSecret: boolean, connectedSince: string | null, lastSeen: string | null, createdTime: string };

export type ConsoleClientsQueryVariables = Exact<{ [key: string]: never; }>;


export type ConsoleClientsQuery = { clients: Array<{ id: number, name: string, online: boolean, ip: string | null, version: string | null, rttMs: number | null, autoregistered: boolean, hasSecret: boolean, connectedSince: string | null, lastSeen: string | null, createdTime: string }> };

export type ConsoleClientChangedSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type ConsoleClientChangedSubscription = { clientChanged: { kind: ClientEventKind, client: { id: number } } };

export type ConsoleCreateClientMutationVariables = Exact<{
  name: string;
  secret: string;
}>;


export type ConsoleCreateClientMutation = { createClient: { id: number, name: string, online: boolean, ip: string | null, version: string | null, rttMs: number | null, autoregistered: boolean, hasSecret: boolean, connectedSince: string | null, lastSeen: string | null, createdTime: string } };

export type ConsoleRotateSecretMutationVariables = Exact<{
  id: number;
  secret: string;
}>;


export type ConsoleRotateSecretMutation = { updateClient: { id: number, name: string, online: boolean, ip: string | null, version: string | null, rttMs: number | null, autoregistered: boolean, hasSecret: boolean, connectedSince: string | null, lastSeen: string | null, createdTime: string } };

export type ConsoleDeleteClientMutationVariables = Exact<{
  id: number;
}>;


export type ConsoleDeleteClientMutation = { deleteClient: { id: number, name: string } };

export type ConsolePullRulesQueryVariables = Exact<{ [key: string]: never; }>;


export type ConsolePullRulesQuery = { pullRules: Array<{ streamPath: string, pullUrl: string, source: PullRuleSource, createdTime: string | null }>, upstream: { state: UpstreamState, server: string, serverName: string | null } | null };

export type ConsoleAddPullRuleMutationVariables = Exact<{
  streamPath: string;
  pullUrl: string;
}>;


export type ConsoleAddPullRuleMutation = { addPullRule: { streamPath: string } };

export type ConsoleRemovePullRuleMutationVariables = Exact<{
  streamPath: string;
}>;


export type ConsoleRemovePullRuleMutation = { removePullRule: { streamPath: string } };

export type ConsoleUpstreamChangedSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type ConsoleUpstreamChangedSubscription = { upstreamChanged: { state: UpstreamState } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const ConsoleTopologyFieldsFragmentDoc = new TypedDocumentString(`
    fragment ConsoleTopologyFields on TopologyNode {
  name
  self
  online
  rttMs
  version
  streams
}
    `, {"fragmentName":"ConsoleTopologyFields"}) as unknown as TypedDocumentString<ConsoleTopologyFieldsFragment, unknown>;
export const ConsoleTopologyTreeFragmentDoc = new TypedDocumentString(`
    fragment ConsoleTopologyTree on TopologyNode {
  ...ConsoleTopologyFields
  children {
    ...ConsoleTopologyFields
    children {
      ...ConsoleTopologyFields
      children {
        ...ConsoleTopologyFields
        children {
          ...ConsoleTopologyFields
        }
      }
    }
  }
}
    fragment ConsoleTopologyFields on TopologyNode {
  name
  self
  online
  rttMs
  version
  streams
}`, {"fragmentName":"ConsoleTopologyTree"}) as unknown as TypedDocumentString<ConsoleTopologyTreeFragment, unknown>;
export const ConsoleStreamFieldsFragmentDoc = new TypedDocumentString(`
    fragment ConsoleStreamFields on Stream {
  path
  direction
  directions
  origin
  chain
  bitrateKbps
  subscribers
  onDemand
  startedAt
  video {
    codec
    width
    height
    fps
  }
  audio {
    codec
    sampleRate
    channels
  }
  publisher {
    protocol
    remote
  }
}
    `, {"fragmentName":"ConsoleStreamFields"}) as unknown as TypedDocumentString<ConsoleStreamFieldsFragment, unknown>;
export const ConsoleClientFieldsFragmentDoc = new TypedDocumentString(`
    fragment ConsoleClientFields on CascadeClient {
  id
  name
  online
  ip
  version
  rttMs
  autoregistered
  hasSecret
  connectedSince
  lastSeen
  createdTime
}
    `, {"fragmentName":"ConsoleClientFields"}) as unknown as TypedDocumentString<ConsoleClientFieldsFragment, unknown>;
export const ConsoleNodeDocument = new TypedDocumentString(`
    query ConsoleNode {
  node {
    name
    version
    roles
    uptimeSeconds
    security {
      adminToken
      protectReads
      localMutationsOnly
    }
  }
}
    `) as unknown as TypedDocumentString<ConsoleNodeQuery, ConsoleNodeQueryVariables>;
export const ConsoleTopologyDocument = new TypedDocumentString(`
    query ConsoleTopology {
  topology {
    ...ConsoleTopologyTree
  }
}
    fragment ConsoleTopologyFields on TopologyNode {
  name
  self
  online
  rttMs
  version
  streams
}
fragment ConsoleTopologyTree on TopologyNode {
  ...ConsoleTopologyFields
  children {
    ...ConsoleTopologyFields
    children {
      ...ConsoleTopologyFields
      children {
        ...ConsoleTopologyFields
        children {
          ...ConsoleTopologyFields
        }
      }
    }
  }
}`) as unknown as TypedDocumentString<ConsoleTopologyQuery, ConsoleTopologyQueryVariables>;
export const ConsoleTopologyChangedDocument = new TypedDocumentString(`
    subscription ConsoleTopologyChanged {
  topologyChanged {
    ...ConsoleTopologyTree
  }
}
    fragment ConsoleTopologyFields on TopologyNode {
  name
  self
  online
  rttMs
  version
  streams
}
fragment ConsoleTopologyTree on TopologyNode {
  ...ConsoleTopologyFields
  children {
    ...ConsoleTopologyFields
    children {
      ...ConsoleTopologyFields
      children {
        ...ConsoleTopologyFields
        children {
          ...ConsoleTopologyFields
        }
      }
    }
  }
}`) as unknown as TypedDocumentString<ConsoleTopologyChangedSubscription, ConsoleTopologyChangedSubscriptionVariables>;
export const ConsoleStreamsDocument = new TypedDocumentString(`
    query ConsoleStreams {
  streams {
    ...ConsoleStreamFields
  }
}
    fragment ConsoleStreamFields on Stream {
  path
  direction
  directions
  origin
  chain
  bitrateKbps
  subscribers
  onDemand
  startedAt
  video {
    codec
    width
    height
    fps
  }
  audio {
    codec
    sampleRate
    channels
  }
  publisher {
    protocol
    remote
  }
}`) as unknown as TypedDocumentString<ConsoleStreamsQuery, ConsoleStreamsQueryVariables>;
export const ConsoleStreamChangedDocument = new TypedDocumentString(`
    subscription ConsoleStreamChanged {
  streamChanged {
    kind
    path
  }
}
    `) as unknown as TypedDocumentString<ConsoleStreamChangedSubscription, ConsoleStreamChangedSubscriptionVariables>;
export const ConsoleClientsDocument = new TypedDocumentString(`
    query ConsoleClients {
  clients {
    ...ConsoleClientFields
  }
}
    fragment ConsoleClientFields on CascadeClient {
  id
  name
  online
  ip
  version
  rttMs
  autoregistered
  hasSecret
  connectedSince
  lastSeen
  createdTime
}`) as unknown as TypedDocumentString<ConsoleClientsQuery, ConsoleClientsQueryVariables>;
export const ConsoleClientChangedDocument = new TypedDocumentString(`
    subscription ConsoleClientChanged {
  clientChanged {
    kind
    client {
      id
    }
  }
}
    `) as unknown as TypedDocumentString<ConsoleClientChangedSubscription, ConsoleClientChangedSubscriptionVariables>;
export const ConsoleCreateClientDocument = new TypedDocumentString(`
    mutation ConsoleCreateClient($name: String!, $secret: String!) {
  createClient(name: $name, secret: $secret) {
    ...ConsoleClientFields
  }
}
    fragment ConsoleClientFields on CascadeClient {
  id
  name
  online
  ip
  version
  rttMs
  autoregistered
  hasSecret
  connectedSince
  lastSeen
  createdTime
}`) as unknown as TypedDocumentString<ConsoleCreateClientMutation, ConsoleCreateClientMutationVariables>;
export const ConsoleRotateSecretDocument = new TypedDocumentString(`
    mutation ConsoleRotateSecret($id: Int!, $secret: String!) {
  updateClient(id: $id, secret: $secret) {
    ...ConsoleClientFields
  }
}
    fragment ConsoleClientFields on CascadeClient {
  id
  name
  online
  ip
  version
  rttMs
  autoregistered
  hasSecret
  connectedSince
  lastSeen
  createdTime
}`) as unknown as TypedDocumentString<ConsoleRotateSecretMutation, ConsoleRotateSecretMutationVariables>;
export const ConsoleDeleteClientDocument = new TypedDocumentString(`
    mutation ConsoleDeleteClient($id: Int!) {
  deleteClient(id: $id) {
    id
    name
  }
}
    `) as unknown as TypedDocumentString<ConsoleDeleteClientMutation, ConsoleDeleteClientMutationVariables>;
export const ConsolePullRulesDocument = new TypedDocumentString(`
    query ConsolePullRules {
  pullRules {
    streamPath
    pullUrl
    source
    createdTime
  }
  upstream {
    state
    server
    serverName
  }
}
    `) as unknown as TypedDocumentString<ConsolePullRulesQuery, ConsolePullRulesQueryVariables>;
export const ConsoleAddPullRuleDocument = new TypedDocumentString(`
    mutation ConsoleAddPullRule($streamPath: String!, $pullUrl: String!) {
  addPullRule(streamPath: $streamPath, pullUrl: $pullUrl) {
    streamPath
  }
}
    `) as unknown as TypedDocumentString<ConsoleAddPullRuleMutation, ConsoleAddPullRuleMutationVariables>;
export const ConsoleRemovePullRuleDocument = new TypedDocumentString(`
    mutation ConsoleRemovePullRule($streamPath: String!) {
  removePullRule(streamPath: $streamPath) {
    streamPath
  }
}
    `) as unknown as TypedDocumentString<ConsoleRemovePullRuleMutation, ConsoleRemovePullRuleMutationVariables>;
export const ConsoleUpstreamChangedDocument = new TypedDocumentString(`
    subscription ConsoleUpstreamChanged {
  upstreamChanged {
    state
  }
}
    `) as unknown as TypedDocumentString<ConsoleUpstreamChangedSubscription, ConsoleUpstreamChangedSubscriptionVariables>;