/**
 * Makes this node one replica of a clustered upper node: joins the cluster in Redis
 * (lease, link owners), records which replica holds each lower node's link, closes
 * links wherever they are when their record is deleted or its secret changes, and
 * feeds the GraphQL subscriptions with the events of every replica (once each).
 */
import os from 'node:os';
import { CloseCode } from '../../dataplane/protocol/index.js';
import type { Transport } from '../../dataplane/transport/index.js';
import { PeerLinks } from './peer-links.js';
import type { CascadeAuthority, CascadeServer } from '../../dataplane/cascade/index.js';
import type { Logger } from '../logger.js';
import type { ClientService } from '../services/client.service.js';
import type { ClusterView, ReplicaRelay } from '../services/cluster-view.js';
import { AppError } from '../errors.js';
import { forwardRelay, sameSecret } from './relay-forward.js';
import { EventBus } from '../services/event-bus.js';
import type { NodeEvents, StreamEvent } from '../services/events.js';
import type { ForwardingService } from '../services/forwarding.service.js';
import type { ReplicaStreamInfo, TopologyNode } from '../services/models.js';
import type { StreamService } from '../services/stream.service.js';
import type { ClusterConfig } from './cluster-config.js';
import { ReplicaMembership } from './replica-membership.js';

/** Link ids of the other replicas' stream links: far above any record id (a PostgreSQL serial), below 2^53. */
const PEER_LINK_IDS = Number.MAX_SAFE_INTEGER - 1_000_000;
const isPeerLink = (id: number): boolean => id >= PEER_LINK_IDS;

/** A wildcard listener is reached by this machine's name. */
function reachable(host: string): string {
  return host === '0.0.0.0' || host === '::' ? os.hostname() : host;
}

type LinkKicker = Parameters<ClientService['setLinkKicker']>[0];

/** What a replica stores for the others (bus-codec JSON). */
interface ReplicaState {
  streams: ReplicaStreamInfo[];
  /** Its own tree (not merged). */
  topology: TopologyNode;
}

/** The events every replica's subscriptions deliver, wherever they happened. */
const SHARED_TOPICS = ['clientChanged', 'streamChanged', 'topologyChanged', 'authRejected'] as const satisfies readonly (keyof NodeEvents)[];

export class ClusterNode {
  /** What subscriptions read: this replica's events and those of the others. */
  readonly feed: EventBus<NodeEvents>;
  readonly view: ClusterView;
  private server: CascadeServer | null = null;
  private local: { forwarding: ForwardingService; streams: StreamService } | null = null;
  private readonly offs: (() => void)[] = [];
  /** Bus writes in order: a replica's stored state is updated before the event that tells of it. */
  private outbox: Promise<void> = Promise.resolve();
  private topoTimer: NodeJS.Timeout | null = null;
  private saveTimer: NodeJS.Timeout | null = null;
  private readonly sweepTimer: NodeJS.Timeout;
  /** Records seen online with no live holder, since when (monotonic ms). */
  private orphans = new Map<number, number>();

  private constructor(
    private readonly secret: string | null,
    private readonly membership: ReplicaMembership,
    /** Stream links to the other replicas (null without cluster.secret). */
    readonly peers: PeerLinks | null,
    private readonly clients: ClientService,
    private readonly events: EventBus<NodeEvents>,
    private readonly log: Logger,
  ) {
    this.feed = new EventBus<NodeEvents>((err, topic) => log.error({ err, topic }, 'event listener failed'));
    const m = membership;
    this.view = {
      replica: m.replica,
      replicas: () => m.replicas().map((r) => ({ name: r.replica, http: r.http, startedAt: new Date(r.startedAt), self: r.replica === m.replica })),
      // While Redis is away nobody is known to hold a link (the records still answer from PostgreSQL).
      holderOf: (id) => m.holderOf(id).catch(() => null),
      streams: () => this.streams(),
      relayVia: (id) => this.relayVia(id),
    };
    for (const topic of SHARED_TOPICS) {
      this.offs.push(
        events.on(topic, (payload) => {
          this.feed.publish(topic, payload);
          // A stream that came or went, or a new tree, is stored before the event tells of it
          // (the others read it on receipt); counts and bitrates are stored a little later.
          const kind = topic === 'streamChanged' ? (payload as StreamEvent).kind : null;
          const ordered = topic === 'topologyChanged' || kind === 'PUBLISHED' || kind === 'UNPUBLISHED';
          if (kind === 'UPDATED' || kind === 'SUBSCRIBERS') this.saveStateSoon();
          // The others rebuild the tree from the stored states: the event itself need not travel.
          const body = { topic, payload: topic === 'topologyChanged' ? null : payload };
          this.send(async () => {
            if (ordered) await this.saveState();
            await m.broadcast('event', body);
          });
        }),
      );
    }
    this.sweepTimer = setInterval(() => void this.sweepOrphans(), m.leaseTtlMs);
    this.sweepTimer.unref();
    m.onMessage('event', (msg) => {
      const topic = msg.topic as (typeof SHARED_TOPICS)[number];
      if (topic === 'topologyChanged') this.refreshTopology();
      else if (topic === 'streamChanged') {
        const e = msg.payload as StreamEvent;
        if (e.kind === 'PUBLISHED' || e.kind === 'UNPUBLISHED') this.refreshPeerIndex();
        this.feed.publish(topic, { ...e, replica: msg.from, stream: e.stream ? { ...e.stream, replica: msg.from } : null });
      } else if (SHARED_TOPICS.includes(topic)) this.feed.publish(topic, msg.payload as never);
    });
  }

  private async relayVia(id: number): Promise<ReplicaRelay | null> {
    const holder = await this.membership.holderOf(id).catch(() => null);
    if (holder === null || holder === this.replica) return null;
    const http = this.membership.replicas().find((r) => r.replica === holder)?.http ?? null;
    const secret = this.secret;
    if (http === null || secret === null) {
      throw new AppError('UNAVAILABLE', `instance ${id} is linked to replica ${holder}${secret === null ? ' and cluster.secret is not set (no forwarding between replicas)' : ', not reachable yet'}`);
    }
    return (request) => forwardRelay(http, secret, id, request);
  }

  /** After the lease was lost (a stall, a Redis restart) the others may have shown this replica's lower nodes offline: online again. */
  private async reassertLinks(): Promise<void> {
    for (const l of this.server?.sessions() ?? []) {
      if (isPeerLink(l.clientId)) continue;
      const rec = await this.clients.find(l.clientId).catch(() => null);
      if (rec && !rec.online) await this.clients.setOnline(l.clientId, { ip: l.remoteAddress, version: l.version, since: l.connectedSince }).catch(() => null);
    }
  }

  /**
   * A record shown online that no live replica has held for a whole lease is offline: its
   * replica died while Redis was away (no lease lapsed then to reap). One replica sweeps.
   */
  private async sweepOrphans(): Promise<void> {
    try {
      if (!(await this.membership.holdRole('sweeper', this.membership.leaseTtlMs * 2))) {
        this.orphans.clear();
        return;
      }
      const held = await this.membership.holders();
      const seen = new Map<number, number>();
      const t = performance.now();
      for (const c of await this.clients.list({ online: true })) {
        if (held.has(c.id)) continue;
        const since = this.orphans.get(c.id) ?? t;
        // A live holder re-publishes its links every third of a lease: a whole lease unheld is no holder.
        if (t - since < this.membership.leaseTtlMs) seen.set(c.id, since);
        else if (await this.clients.setOffline(c.id)) this.log.warn({ clientId: c.id, name: c.name }, 'cluster: record online with no replica holding its link: offline');
      }
      this.orphans = seen;
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'cluster: orphan sweep skipped');
    }
  }

  private send(write: () => Promise<void>): void {
    this.outbox = this.outbox.then(write).catch((err: unknown) => this.busDown(err));
  }

  /** The streams and tree of this replica, stored for the others' answers. */
  private async saveState(): Promise<void> {
    if (!this.local) return;
    const state: ReplicaState = { streams: this.local.streams.list(), topology: await this.local.forwarding.localTopology() };
    await this.membership.setState(state);
  }

  private saveStateSoon(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      this.send(() => this.saveState());
    }, 1_000);
    this.saveTimer.unref();
  }

  private async otherStates(): Promise<Map<string, ReplicaState>> {
    return (await this.membership.otherStates().catch(() => new Map())) as Map<string, ReplicaState>;
  }

  /** Where the other replicas' streams are, for pulls from them (copies one pulled from another left out). */
  private refreshPeerIndex(): void {
    const peers = this.peers;
    if (!peers) return;
    void this.otherStates().then((states) => {
      const nodes = new Set(this.membership.replicas().map((r) => r.node));
      const index = new Map<string, string>();
      for (const [replica, st] of states) {
        for (const s of st.streams) if (!(s.publisher.protocol === 'cascade' && nodes.has(s.publisher.remote))) index.set(s.path, replica);
      }
      peers.setIndex(index);
    });
  }

  /** Every replica's streams, each with the replica that has it. */
  private async streams(): Promise<ReplicaStreamInfo[]> {
    const out: ReplicaStreamInfo[] = (this.local?.streams.list() ?? []).map((s) => ({ ...s, replica: this.replica }));
    for (const [replica, st] of await this.otherStates()) out.push(...st.streams.map((s) => ({ ...s, replica })));
    return out.sort((x, y) => x.path.localeCompare(y.path) || x.replica!.localeCompare(y.replica!));
  }

  /** This replica's tree with what the others hold: their streams, and the lower nodes linked to them. */
  private async mergeTopology(local: TopologyNode): Promise<TopologyNode> {
    const root: TopologyNode = { ...local, streams: [...local.streams], children: [...local.children] };
    for (const st of (await this.otherStates()).values()) {
      for (const p of st.topology.streams) if (!root.streams.includes(p)) root.streams.push(p);
      for (const child of st.topology.children) {
        if (!child.online) continue;
        const i = root.children.findIndex((c) => c.name === child.name);
        if (i < 0) root.children.push(child);
        else if (!root.children[i]!.online) root.children[i] = child;
      }
    }
    return root;
  }

  /** Another replica's tree changed: publish the merged tree again (once for changes within 100 ms). */
  private refreshTopology(): void {
    if (this.topoTimer || !this.local) return;
    const fwd = this.local.forwarding;
    this.topoTimer = setTimeout(() => {
      this.topoTimer = null;
      fwd.topology().then(
        (t) => this.feed.publish('topologyChanged', t),
        () => undefined,
      );
    }, 100);
    this.topoTimer.unref();
  }

  /** What this replica has to show the others; from now on the tree the APIs show is the cluster's. */
  bindLocal(local: { forwarding: ForwardingService; streams: StreamService }): void {
    this.local = local;
    local.forwarding.setTopologyView((t) => this.mergeTopology(t));
    this.send(() => this.saveState());
    this.refreshPeerIndex();
  }

  static async join(
    config: ClusterConfig,
    deps: { clients: ClientService; events: EventBus<NodeEvents>; logger: Logger; transport: Transport; nodeName: string; version: string },
  ): Promise<ClusterNode> {
    let node: ClusterNode | null = null;
    const membership = await ReplicaMembership.join({
      config,
      nodeName: deps.nodeName,
      logger: deps.logger,
      // Links of lower nodes only (not the other replicas' stream links).
      localLinks: () => node?.server?.sessions().flatMap((s) => (isPeerLink(s.clientId) ? [] : [s.clientId])) ?? [],
      onRejoined: () => {
        const n = node;
        n?.send(() => n.saveState());
        void n?.reassertLinks();
      },
      onPeerDown: (replica) => {
        node?.peers?.drop(replica);
        node?.refreshPeerIndex();
      },
      onReplicaDown: async (_replica, ids) => {
        for (const id of ids) await deps.clients.setOffline(id);
        node?.local?.forwarding.topologyChanged();
      },
    });
    const peers =
      config.secret === null
        ? null
        : new PeerLinks({ transport: deps.transport, replica: config.replica, secret: config.secret, version: deps.version, logger: deps.logger, facts: (r) => membership.factsOf(r) });
    node = new ClusterNode(config.secret, membership, peers, deps.clients, deps.events, deps.logger);
    return node;
  }

  get replica(): string {
    return this.membership.replica;
  }

  private busDown(err: unknown): void {
    this.log.debug({ err: (err as Error).message }, 'cluster: message not sent (Redis away)');
  }

  /** At start: records shown online whose link no live replica holds are offline (instead of every record, as on a single node). */
  async markStaleOffline(): Promise<number> {
    const held = await this.membership.holders();
    let n = 0;
    for (const c of await this.clients.list({ online: true })) {
      if (!held.has(c.id) && (await this.clients.setOffline(c.id))) n++;
    }
    return n;
  }

  /** The cascade server whose links this replica holds. */
  bindServer(server: CascadeServer): void {
    this.server = server;
  }

  /**
   * Admits the other replicas' stream links (cluster.secret and a live replica's name;
   * ids far above any record's, no record); records a lower node's link holder before its record
   * goes online; after a link went down, only the holder marks it offline.
   */
  wrapAuthority(inner: CascadeAuthority): CascadeAuthority {
    const m = this.membership;
    const peerIds = new Map<string, number>();
    return {
      authenticate: (req) => {
        if (this.secret !== null && req.secret !== null && sameSecret(req.secret, this.secret)) {
          if (req.name === m.replica || !m.isLive(req.name)) {
            return Promise.resolve({ ok: false, code: CloseCode.AuthFailed, reason: 'authentication failed: not a live replica of this cluster' });
          }
          let id = peerIds.get(req.name);
          if (id === undefined) peerIds.set(req.name, (id = PEER_LINK_IDS + peerIds.size));
          return Promise.resolve({ ok: true, clientId: id, name: `replica ${req.name}` });
        }
        return inner.authenticate(req);
      },
      linkUp: async (id, info) => {
        if (isPeerLink(id)) return;
        await m.claimLink(id).catch((err: unknown) => this.log.warn({ err: (err as Error).message, clientId: id }, 'cluster: link owner not recorded (Redis away; retried with the lease)'));
        await inner.linkUp(id, info);
      },
      linkDown: async (id, info) => {
        if (isPeerLink(id)) return;
        const mine = await m.releaseLink(id).catch(() => true);
        if (mine) await inner.linkDown(id, info);
        else this.log.debug({ clientId: id }, 'cluster: link went down here but another replica holds it now');
      },
    };
  }

  /** Closes a record's link on whichever replica holds it. */
  linkKicker(local: LinkKicker): LinkKicker {
    this.membership.onMessage('kick', (msg) => {
      const why = msg.why === 'deleted' ? 'deleted' : 'secret-changed';
      if (typeof msg.clientId === 'number') local(msg.clientId, why);
    });
    return (id, why) => {
      local(id, why);
      this.membership.broadcast('kick', { clientId: id, why }).catch((err: unknown) => this.busDown(err));
    };
  }

  /** Runs `apply` when another replica changed what `type` names (e.g. the pull rules in the database). */
  onPeerChange(type: string, apply: () => void): () => void {
    this.membership.onMessage(`changed:${type}`, () => apply());
    return () => void this.membership.broadcast(`changed:${type}`, {}).catch((err: unknown) => this.busDown(err));
  }

  /** Tells the others where this replica's HTTP listener and cascade server are. */
  advertise(http: { host: string; port: number }, quic: { host: string; port: number } | null, fingerprint: string | null): void {
    const h = reachable(http.host);
    this.membership.advertise({
      http: `http://${h.includes(':') ? `[${h}]` : h}:${http.port}`,
      quic: quic ? { host: reachable(quic.host), port: quic.port } : null,
      fingerprint,
    });
  }

  async close(): Promise<void> {
    for (const off of this.offs) off();
    clearInterval(this.sweepTimer);
    if (this.saveTimer) clearTimeout(this.saveTimer);
    if (this.topoTimer) clearTimeout(this.topoTimer);
    await this.outbox;
    await this.peers?.close();
    await this.membership.leave();
  }
}
