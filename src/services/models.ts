/**
 * The shapes services hand to the APIs (GraphQL types, REST bodies, events). Kept
 * apart from the services so the event map and every service can share them
 * without importing each other.
 */
import type { StreamInfo } from '../../dataplane/media/index.js';

/** A client record as APIs show it: never the secret or its hash. */
export interface ClientRecord {
  id: number;
  name: string;
  ip: string | null;
  online: boolean;
  autoregistered: boolean;
  hasSecret: boolean;
  version: string | null;
  connectedSince: Date | null;
  lastSeen: Date | null;
  createdTime: Date;
  updatedTime: Date;
}

/** One node of the tree. */
export interface TopologyNode {
  name: string;
  /** True for this node. */
  self: boolean;
  online: boolean;
  /** RTT of its link to its parent, ms (direct lower nodes only). */
  rttMs: number | null;
  /** Program version: this node's, or a direct lower node's from its last hello; null deeper down. */
  version: string | null;
  /** Streams live on that node (announced as its own). */
  streams: string[];
  children: TopologyNode[];
}

/** A stream of this node as the APIs show it (the hub's view: codecs, bitrate, players). */
export type { AudioStreamInfo, StreamInfo, VideoStreamInfo } from '../../dataplane/media/index.js';

/** A stream with, on a cluster replica, the replica that has it (absent: this one). */
export type ReplicaStreamInfo = StreamInfo & { replica?: string };
