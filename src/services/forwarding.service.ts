/**
 * Stream forwarding as the APIs see it: per-stream direction (local, pushed in,
 * pulled in; pushed out, pulled out), pull rules, and the topology of the tree
 * below this node (from the lower nodes' ANNOUNCEs). Publishes `topologyChanged`
 * and, for forwarding changes, `streamChanged` (kind UPDATED).
 */
import type { Upstream, CascadeServer, Forwarding, StreamDirection, StreamForwarding } from '../../dataplane/cascade/index.js';
import type { StreamHub } from '../../dataplane/media/index.js';
import type { ClientService } from './client.service.js';
import type { EventBus } from './event-bus.js';
import type { NodeEvents } from './events.js';
import type { PullRuleRecord, PullRuleService } from './pull-rule.service.js';
import type { TopologyNode } from './models.js';
import { VERSION } from '../version.js';

export type { TopologyNode } from './models.js';

export type { StreamDirection, StreamForwarding, PullRuleRecord };

const EMPTY: StreamForwarding = { direction: 'LOCAL', peer: null, chain: [], onDemand: false, outbound: [] };

export class ForwardingService {
  private topoTimer: NodeJS.Timeout | null = null;
  private view: (local: TopologyNode) => Promise<TopologyNode> = (t) => Promise.resolve(t);
  private readonly offs: (() => void)[] = [];

  constructor(
    private readonly forwarding: Forwarding | null,
    private readonly hub: StreamHub,
    private readonly clients: ClientService,
    private readonly server: CascadeServer | null,
    private readonly client: Upstream | null,
    readonly pullRules: PullRuleService,
    private readonly events: EventBus<NodeEvents>,
    private readonly nodeName: string,
  ) {
    if (forwarding) {
      this.offs.push(
        forwarding.registry.on('changed', (path) => {
          if (path !== null) {
            const info = hub.get(path);
            if (info) events.publish('streamChanged', { kind: 'UPDATED', path, stream: info });
          }
          this.topologyChanged();
        }),
      );
    }
    this.offs.push(
      hub.on('published', () => this.topologyChanged()),
      hub.on('unpublished', () => this.topologyChanged()),
    );
    if (server) {
      this.offs.push(server.on('online', () => this.topologyChanged()), server.on('offline', () => this.topologyChanged()));
    }
    if (client) this.offs.push(client.on('stateChanged', () => this.topologyChanged()));
  }

  /** Forwarding facts of a stream of this node. */
  forwardingOf(path: string): StreamForwarding {
    return this.forwarding?.forwardingOf(path) ?? EMPTY;
  }

  /** Every direction that applies to a stream: its origin, then PUSHED_OUT / PULLED_OUT if forwarded. */
  directionsOf(path: string): StreamDirection[] {
    const f = this.forwardingOf(path);
    const out: StreamDirection[] = [f.direction];
    for (const d of ['PUSHED_OUT', 'PULLED_OUT'] as const) if (f.outbound.some((o) => o.direction === d)) out.push(d);
    return out;
  }

  /** How the APIs see the tree: this node's, or on a cluster replica the tree of every replica merged. */
  setTopologyView(view: (local: TopologyNode) => Promise<TopologyNode>): void {
    this.view = view;
  }

  /** The tree below (and including) this node, as the APIs show it. */
  async topology(): Promise<TopologyNode> {
    return this.view(await this.localTopology());
  }

  /** The tree below (and including) this node, from its own links only. */
  async localTopology(): Promise<TopologyNode> {
    const root: TopologyNode = {
      name: this.nodeName,
      self: true,
      online: true,
      rttMs: this.client?.status().rttMs ?? null,
      version: VERSION,
      streams: this.hub.list().map((s) => s.path),
      children: [],
    };
    if (!this.server) return root;
    const announced = new Map((this.forwarding?.registry.announcedNodes() ?? []).map((n) => [n.clientId, n]));
    const records = await this.clients.list();
    for (const rec of records) {
      const live = this.server.session(rec.id);
      const child: TopologyNode = {
        name: rec.name,
        self: false,
        online: live !== null,
        rttMs: live?.rttMs ?? null,
        version: rec.version,
        streams: [],
        children: [],
      };
      const a = announced.get(rec.id);
      for (const s of a?.streams.values() ?? []) {
        // chain: the node that has the stream first, `rec` last.
        let node = child;
        for (let i = s.chain.length - 2; i >= 0; i--) {
          const name = s.chain[i]!;
          let next = node.children.find((c) => c.name === name);
          if (!next) {
            next = { name, self: false, online: live !== null, rttMs: null, version: null, streams: [], children: [] };
            node.children.push(next);
          }
          node = next;
        }
        if (!node.streams.includes(s.path)) node.streams.push(s.path);
      }
      root.children.push(child);
    }
    return root;
  }

  /** Pull rules in force (file + runtime). */
  listPullRules(): PullRuleRecord[] {
    return this.pullRules.list();
  }

  /** Publishes the tree again soon (changes within 100 ms make one event). */
  topologyChanged(): void {
    if (this.topoTimer) return;
    this.topoTimer = setTimeout(() => {
      this.topoTimer = null;
      void this.topology().then(
        (t) => this.events.publish('topologyChanged', t),
        () => undefined,
      );
    }, 100);
    this.topoTimer.unref();
  }

  close(): void {
    for (const off of this.offs) off();
    if (this.topoTimer) clearTimeout(this.topoTimer);
  }
}
