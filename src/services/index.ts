/**
 * The services one node offers to its APIs (GraphQL resolvers and REST shims).
 * Resolvers and shims call these; they never touch TypeORM or the data plane.
 */
import type { Logger } from '../logger.js';
import type { CascadeService } from './cascade.service.js';
import type { ClusterView } from './cluster-view.js';
import type { ClientService } from './client.service.js';
import type { EventBus } from './event-bus.js';
import type { ForwardingService } from './forwarding.service.js';
import type { NodeEvents } from './events.js';
import type { RelayService } from './relay.service.js';
import type { NodeSecurity } from './node-security.js';
import type { StreamService } from './stream.service.js';

export type NodeRole = 'CASCADE_SERVER' | 'CASCADE_CLIENT' | 'MEDIA';

/** Facts about this node. */
export interface NodeInfo {
  name: string;
  version: string;
  startedAt: Date;
  roles: NodeRole[];
  /** "sha256:HEX" of the cascade server's certificate, when the server role is on. */
  fingerprint: string | null;
  /** The security settings in force. */
  security: NodeSecurity;
}

export interface Services {
  node: NodeInfo;
  clients: ClientService;
  streams: StreamService;
  cascade: CascadeService;
  forwarding: ForwardingService;
  relay: RelayService;
  events: EventBus<NodeEvents>;
  /** What subscriptions deliver: `events`, or on a cluster replica the events of every replica. */
  feed: EventBus<NodeEvents>;
  /** The cluster this node is a replica of; null on a single node. */
  cluster: ClusterView | null;
  logger: Logger;
}
