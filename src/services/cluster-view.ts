import type { RelayOutcome, RelayRequest } from '../../dataplane/cascade/index.js';
import type { ReplicaStreamInfo } from './models.js';

/** Relays one request to a lower node through the replica holding its link. */
export type ReplicaRelay = (request: RelayRequest) => Promise<RelayOutcome>;

/**
 * What the APIs see of the cluster this node is a replica of (null on a single node).
 */

/** A live replica. */
export interface ReplicaInfo {
  name: string;
  /** Its HTTP base URL, once it listens. */
  http: string | null;
  startedAt: Date;
  /** True for the replica answering. */
  self: boolean;
}

export interface ClusterView {
  /** This replica's name. */
  replica: string;
  /** Live replicas, this one included. */
  replicas(): ReplicaInfo[];
  /** The replica holding client `id`'s link; null when none (offline). */
  holderOf(clientId: number): Promise<string | null>;
  /** How to relay to client `id` when another live replica holds its link (null: none does, or forwarding is off). */
  relayVia(clientId: number): Promise<ReplicaRelay | null>;
  /** The streams of every replica, each with its replica. */
  streams(): Promise<ReplicaStreamInfo[]>;
}
