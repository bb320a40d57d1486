/**
 * Stream forwarding across the cascade (PROTOCOL.md §10): ties the node's stream hub
 * to its cascade roles. A facade over four policies, each in its own file with its
 * own state:
 *
 * - autopush.ts (client role): push every stream published here or pushed in from
 *   below to the upper node, again after every reconnect;
 * - announcer.ts (client role): ANNOUNCE this node's streams and its subtree's;
 * - pull-rules.ts (client role): keep the rules' streams pulled from the upper node;
 * - on-demand.ts (both): pull a missing path for a player or a peer, bounded.
 *
 * Serving pulls and accepting pushes are media-pull.ts and media-push.ts; the
 * registry of where streams come from and go is stream-origin.ts.
 */
import type { Logger } from 'pino';
import { StreamKind } from '../../protocol/index.js';
import type { StreamHub } from '../../media/stream-hub.js';
import type { Upstream } from '../link/upstream-supervisor.js';
import type { CascadeServer } from '../link/cascade-server.js';
import { acceptPush } from './media-push.js';
import { servePull } from './media-pull.js';
import { StreamRegistry, type StreamDirection } from './stream-origin.js';
import { upperSide, type ForwardingContext, type PeerStreams } from './context.js';
import { Autopush } from './autopush.js';
import { Announcer } from './announcer.js';
import { PullRules, type PullRule } from './pull-rules.js';
import { DEFAULT_ON_DEMAND, OnDemand, type OnDemandLimits } from './on-demand.js';

export { pullUrlPath, type PullRule } from './pull-rules.js';
export type { PeerStreams, StreamPeer } from './context.js';

/** Options of {@link Forwarding}. */
export interface ForwardingOptions {
  hub: StreamHub;
  logger: Logger;
  /** This node's name; node names must be unique in a tree (loop detection). */
  nodeName: string;
  server: CascadeServer | null;
  client: Upstream | null;
  /** Peers to pull missing streams from (cluster replicas), or none. */
  peers?: PeerStreams | null;
  /** Push every local stream to the upper node (cascade-client.autopush). */
  autopush: boolean;
  /** How long an on-demand pull stays after its last subscriber left, ms (default 10 000). */
  onDemandGraceMs?: number;
  /** Bounds of on-demand pulls (defaults: {@link DEFAULT_ON_DEMAND}). */
  onDemand?: Partial<Omit<OnDemandLimits, 'graceMs'>>;
  /** Retry interval of pull rules and of dropped pushes, ms (default 1 000). */
  retryMs?: number;
  /**
   * How long a stream pulled from the upper node keeps its players when the link is
   * lost, waiting for a link (to the same or another upper node) to pull it again, ms
   * (default 0: the stream ends with the link).
   */
  holdMs?: number;
}

/** How a stream of this node is forwarded, for the APIs. */
export interface StreamForwarding {
  /** LOCAL, PUSHED_IN or PULLED_IN. */
  direction: StreamDirection;
  /** The node it came from (inbound only). */
  peer: string | null;
  /** Nodes it passed through before this one. */
  chain: string[];
  onDemand: boolean;
  /** Outgoing forwardings: PUSHED_OUT / PULLED_OUT, the peer, bytes sent. */
  outbound: { direction: StreamDirection; peer: string; since: Date; bytes: number }[];
}

export class Forwarding {
  readonly registry: StreamRegistry;
  private readonly ctx: ForwardingContext;
  private readonly autopush: Autopush | null;
  private readonly announcer: Announcer | null;
  private readonly rules: PullRules;
  private readonly onDemand: OnDemand;
  private readonly offs: (() => void)[] = [];
  private stopped = false;

  constructor(private readonly o: ForwardingOptions) {
    const logger = o.logger.child({ component: 'forwarding' });
    this.registry = new StreamRegistry(logger, o.hub);
    this.ctx = { hub: o.hub, registry: this.registry, nodeName: o.nodeName, logger, server: o.server, upper: o.client, holdMs: o.holdMs ?? 0, peers: o.peers ?? null };
    const retryMs = o.retryMs ?? 1_000;
    const upper = o.client ? upperSide(o.client, this.ctx.holdMs) : null;
    this.autopush = upper && o.autopush ? new Autopush(this.ctx, upper, retryMs) : null;
    this.announcer = o.client ? new Announcer(this.ctx, o.client) : null;
    this.rules = new PullRules(this.ctx, upper, retryMs);
    this.onDemand = new OnDemand(this.ctx, { ...DEFAULT_ON_DEMAND, ...o.onDemand, graceMs: o.onDemandGraceMs ?? DEFAULT_ON_DEMAND.graceMs });
  }

  /** Register the stream handlers and hub hooks. Call before the roles start. */
  start(): void {
    const { hub, server, client } = this.o;
    const obtain = (path: string, chain: string[]): Promise<boolean> => this.onDemand.obtain(path, chain, null);
    if (server) {
      this.offs.push(
        server.onStream(StreamKind.MediaPush, (s, c) => acceptPush(this.ctx, s, c)),
        server.onStream(StreamKind.MediaPull, (s, c) => servePull(this.ctx, s, c, obtain)),
        server.on('announce', ({ clientId, message }) => {
          this.registry.applyAnnounce(clientId, server.session(clientId)?.name ?? `client-${clientId}`, message);
          this.onDemand.forgetMisses(message.added.map((a) => a.path));
          this.announcer?.schedule();
        }),
        server.on('offline', ({ clientId }) => {
          this.registry.dropAnnounced(clientId);
          this.announcer?.schedule();
        }),
      );
    }
    if (client) {
      this.offs.push(
        client.onStream(StreamKind.MediaPull, (s, c) => servePull(this.ctx, s, c, obtain)),
        client.on('stateChanged', (st) => {
          if (st.state !== 'online') return;
          this.announcer?.schedule(true);
          this.autopush?.pushAll();
          this.rules.reconcile();
        }),
      );
    }
    // The origin of a stream pushed or pulled in is recorded by hub.publish itself,
    // so a published listener already knows whether to push it.
    this.offs.push(
      hub.on('published', (info) => {
        this.autopush?.maybePush(info.path);
        this.announcer?.schedule();
      }),
      hub.on('unpublished', () => this.announcer?.schedule()),
      hub.on('subscribersChanged', (path, count) => this.onDemand.checkIdle(path, count)),
    );
    if (server || client) hub.setMissingStreamHandler((path, requester) => this.onDemand.obtain(path, [], requester));
  }

  /** Stop every pull and timer (pushes end with the client link). Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const off of this.offs.splice(0)) off();
    if (this.o.server || this.o.client) this.o.hub.setMissingStreamHandler(null);
    this.autopush?.stop();
    this.announcer?.stop();
    this.onDemand.stop();
    this.rules.stop();
    this.registry.close();
  }

  /** Replace the pull rules (config + runtime). Removed rules stop their pull at once. */
  setPullRules(rules: readonly PullRule[]): void {
    this.rules.set(rules);
  }

  /** The pull rules in force. */
  pullRules(): PullRule[] {
    return this.rules.list();
  }

  /** How stream `path` of the local hub is forwarded. */
  forwardingOf(path: string): StreamForwarding {
    const inb = this.registry.inboundOf(path);
    return {
      direction: inb?.direction ?? 'LOCAL',
      peer: inb?.peer ?? null,
      chain: inb?.chain ?? [],
      onDemand: inb?.onDemand ?? false,
      outbound: this.registry.outboundOf(path).map((x) => ({ direction: x.direction, peer: x.peer, since: x.since, bytes: x.bytes() })),
    };
  }
}
