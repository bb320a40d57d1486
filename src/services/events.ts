/**
 * The node's event map: what services publish and GraphQL subscriptions push.
 */
import type { ClientRecord } from './client.service.js';

export type ClientEventKind = 'CREATED' | 'UPDATED' | 'DELETED' | 'ONLINE' | 'OFFLINE';

export interface ClientEvent {
  kind: ClientEventKind;
  client: ClientRecord;
}

/** A lower node's connection attempt that was refused. */
export interface AuthRejectedEvent {
  remoteAddress: string;
  name: string;
  reason: string;
  at: Date;
}

export interface NodeEvents {
  clientChanged: ClientEvent;
  authRejected: AuthRejectedEvent;
}
