/**
 * Where the streams of a node come from and where they go: the forwarding registry.
 *
 * - inbound: a stream of the local hub that arrived over the cascade (pushed in by a
 *   lower node, or pulled in from the upper node or a lower one), with the chain of
 *   nodes it has passed through (loop detection, PROTOCOL.md §10). The record is the
 *   hub's origin of the stream (`hub.publish(path, info, registry.inbound(...))`), so it
 *   is known from the publish on and gone with the unpublish;
 * - outbound: every forwarding of a local stream to another node (pushed out to the
 *   upper node, pulled out by a peer);
 * - announced: the streams each lower node announced for its subtree (ANNOUNCE).
 *
 * Bookkeeping, no I/O; `changed` fires on every change (the control plane throttles
 * it for GraphQL).
 */
import type { Logger } from 'pino';
import { Emitter } from '../../events.js';
import type { StreamHub } from '../../media/stream-hub.js';

/** How a stream reached a node or leaves it. */
export type StreamDirection = 'LOCAL' | 'PUSHED_IN' | 'PULLED_IN' | 'PUSHED_OUT' | 'PULLED_OUT';

/** A stream that arrived over the cascade. */
export interface InboundStream {
  path: string;
  direction: 'PUSHED_IN' | 'PULLED_IN';
  /** Name of the node it came from. */
  peer: string;
  /** True when it came from our upper node (never pushed back up). */
  fromUpper: boolean;
  /** Nodes it passed through before reaching us, origin first (the sender is the last). */
  chain: string[];
  /** Pulled on demand: closed after the idle grace period. */
  onDemand: boolean;
  since: Date;
  /** Unpublish the local copy (used when the same lower node pushes the path again). */
  close?: (reason: string) => void;
}

/** A forwarding of a local stream to another node. */
export interface OutboundStream {
  id: number;
  path: string;
  direction: 'PUSHED_OUT' | 'PULLED_OUT';
  peer: string;
  since: Date;
  /** Bytes of tag bodies sent so far. */
  bytes(): number;
}

/** A stream a lower node announced (it or a node below it has the stream). */
export interface AnnouncedStream {
  path: string;
  /** Nodes from the one that has the stream up to the announcing lower node. */
  chain: string[];
}

/** Announced streams of one lower node. */
export interface AnnouncedNode {
  clientId: number;
  name: string;
  streams: Map<string, AnnouncedStream>;
}

type StreamRegistryEvents = {
  /** Something about `path` changed (null: the announce tables). */
  changed: [path: string | null];
};

let nextOutboundId = 1;

/** Most streams remembered per lower node (its whole subtree). */
const MAX_ANNOUNCED_PER_NODE = 10_000;

export class StreamRegistry extends Emitter<StreamRegistryEvents> {
  /** The inbound records this registry made (a hub origin of another kind is not ours). */
  private readonly issued = new WeakSet<InboundStream>();
  private readonly outbound = new Map<number, OutboundStream>();
  private readonly endedBytes = { PUSHED_OUT: 0, PULLED_OUT: 0 };
  private readonly announced = new Map<number, AnnouncedNode>();

  constructor(
    logger: Logger,
    private readonly hub: StreamHub,
  ) {
    super(logger);
    this.offHub = [
      hub.on('published', (info) => {
        if (this.inboundOf(info.path)) this.emit('changed', info.path);
      }),
      hub.on('unpublished', (path) => this.emit('changed', path)),
    ];
  }

  private readonly offHub: (() => void)[];

  /** Stop following the hub. */
  close(): void {
    for (const off of this.offHub.splice(0)) off();
  }

  /** A new inbound record, to be given as the origin to `hub.publish`. */
  inbound(info: Omit<InboundStream, 'since'>): InboundStream {
    const rec: InboundStream = { ...info, since: new Date() };
    this.issued.add(rec);
    return rec;
  }

  /** How a live stream of the hub arrived over the cascade; undefined for a local one. */
  inboundOf(path: string): InboundStream | undefined {
    const o = this.hub.originOf(path) as InboundStream | null;
    return o !== null && this.issued.has(o) ? o : undefined;
  }

  /** The chain of nodes the stream passed through before this node ([] for a local stream). */
  chainOf(path: string): string[] {
    return this.inboundOf(path)?.chain ?? [];
  }

  /** Record an outbound forwarding; returns a function that removes it. */
  addOutbound(info: Omit<OutboundStream, 'id' | 'since'>): () => void {
    const rec: OutboundStream = { ...info, id: nextOutboundId++, since: new Date() };
    this.outbound.set(rec.id, rec);
    this.emit('changed', info.path);
    return () => {
      if (!this.outbound.delete(rec.id)) return;
      this.endedBytes[rec.direction] += rec.bytes();
      this.emit('changed', info.path);
    };
  }

  /** Bytes sent by every forwarding in `direction` since start, ended ones included. */
  bytesSent(direction: OutboundStream['direction']): number {
    let n = this.endedBytes[direction];
    for (const o of this.outbound.values()) if (o.direction === direction) n += o.bytes();
    return n;
  }

  outboundOf(path: string): OutboundStream[] {
    return [...this.outbound.values()].filter((o) => o.path === path);
  }

  allOutbound(): OutboundStream[] {
    return [...this.outbound.values()];
  }

  /** Apply an ANNOUNCE from lower node `clientId`. */
  applyAnnounce(clientId: number, name: string, msg: { reset: boolean; added: { path: string; chain?: string[] }[]; removed: string[] }): void {
    let node = this.announced.get(clientId);
    if (!node || msg.reset) {
      node = { clientId, name, streams: new Map() };
      this.announced.set(clientId, node);
    }
    node.name = name;
    let dropped = 0;
    for (const a of msg.added) {
      if (!node.streams.has(a.path) && node.streams.size >= MAX_ANNOUNCED_PER_NODE) {
        dropped++;
        continue;
      }
      node.streams.set(a.path, { path: a.path, chain: a.chain && a.chain.length > 0 ? a.chain : [name] });
    }
    if (dropped > 0) this.emitterLogger.warn({ clientId, name, dropped, limit: MAX_ANNOUNCED_PER_NODE }, 'lower node announced too many streams; ignoring the rest');
    for (const r of msg.removed) node.streams.delete(r);
    this.emit('changed', null);
  }

  /** Forget a lower node's announcements (its link went down). */
  dropAnnounced(clientId: number): void {
    if (this.announced.delete(clientId)) this.emit('changed', null);
  }

  /** Announced streams per lower node. */
  announcedNodes(): AnnouncedNode[] {
    return [...this.announced.values()];
  }

  /** The lower nodes that announced `path`, excluding those named in `exclude`. */
  whoAnnounced(path: string, exclude: readonly string[] = []): AnnouncedNode[] {
    return [...this.announced.values()].filter((n) => {
      const s = n.streams.get(path);
      // The announcer is known by its record name here and by its own node name in chains.
      return s !== undefined && !exclude.includes(n.name) && !exclude.includes(s.chain[s.chain.length - 1] ?? n.name);
    });
  }
}
