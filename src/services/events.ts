/**
 * The node's event map: what services publish and GraphQL subscriptions push.
 */
import type { UpstreamStatus } from './cascade.service.js';
import type { ClientRecord, ReplicaStreamInfo, TopologyNode } from './models.js';

export type ClientEventKind = 'CREATED' | 'UPDATED' | 'DELETED' | 'ONLINE' | 'OFFLINE';

export interface ClientEvent {
  kind: ClientEventKind;
  client: ClientRecord;
}

/** A lower node's connection attempt that was refused. */
export interface AuthRejectedEvent {
  remoteAddress: string;
  /** The name the node gave in its hello, if it got that far. */
  name: string | null;
  code: number;
  reason: string;
  at: Date;
}

export type StreamEventKind = 'PUBLISHED' | 'UPDATED' | 'UNPUBLISHED' | 'SUBSCRIBERS';

/** A stream of this node appeared, changed, lost subscribers/gained some, or ended. */
export interface StreamEvent {
  kind: StreamEventKind;
  path: string;
  /** The stream now; null once unpublished. */
  stream: ReplicaStreamInfo | null;
  /** On a cluster replica: the replica the stream is on (absent: this one). */
  replica?: string;
}

export interface NodeEvents {
  clientChanged: ClientEvent;
  authRejected: AuthRejectedEvent;
  streamChanged: StreamEvent;
  upstreamChanged: UpstreamStatus;
  /** The tree below this node changed (nodes online/offline, streams announced). */
  topologyChanged: TopologyNode;
}
