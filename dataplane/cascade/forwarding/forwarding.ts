/**
 * Stream forwarding across the cascade (issue 6, PROTOCOL.md §10): ties the node's
 * stream hub to its cascade roles.
 *
 * Client role (lower node): autopush of every stream published here or pushed in
 * from below (never one pulled from anywhere), again after every reconnect; pull
 * rules (kept pulled from the upper node while the link is up, retried every
 * second); ANNOUNCE of this node's streams and its subtree's to the upper node;
 * serving pulls the upper node asks for.
 * Server role (upper node): accepting pushes, serving pulls, keeping the announce
 * tables of the lower nodes.
 * Both: on-demand pulls for players asking for a missing path (from the lower node
 * that announced it, else from the upper node), closed `onDemandGraceMs` after their
 * last subscriber left.
 */
import type { Logger } from 'pino';
import { StreamKind } from '../../protocol/index.js';
import { isValidStreamPath, type StreamHub } from '../../media/stream-hub.js';
import type { UpperLink } from '../link/upper-link.js';
import type { CascadeServer } from '../link/cascade-server.js';
import type { ForwardingHost } from './media-open.js';
import { acceptPush, pushOut } from './media-push.js';
import { pullIn, servePull, type PullHandle } from './media-pull.js';
import { StreamRegistry, type StreamDirection } from './stream-origin.js';

/** A pull rule: keep `streamPath` pulled from the upper node's `pullUrl` (cascade://app/name). */
export interface PullRule {
  streamPath: string;
  pullUrl: string;
}

/** Options of {@link Forwarding}. */
export interface ForwardingOptions {
  hub: StreamHub;
  logger: Logger;
  /** This node's name; node names must be unique in a tree (loop detection). */
  nodeName: string;
  server: CascadeServer | null;
  client: UpperLink | null;
  /** Push every local stream to the upper node (cascade-client.autopush). */
  autopush: boolean;
  /** How long an on-demand pull stays after its last subscriber left, ms (default 10 000). */
  onDemandGraceMs?: number;
  /** Retry interval of pull rules and of dropped pushes, ms (default 1 000). */
  retryMs?: number;
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

/** Parse `cascade://app/name` into `app/name`, or null. */
export function pullUrlPath(url: string): string | null {
  const m = /^cascade:\/\/(.+)$/.exec(url);
  return m ? m[1]! : null;
}

export class Forwarding {
  readonly registry: StreamRegistry;
  private readonly host: ForwardingHost;
  private readonly o: ForwardingOptions;
  private readonly log: Logger;
  private readonly grace: number;
  private readonly retryMs: number;
  private readonly pushes = new Map<string, Promise<void>>();
  private readonly onDemand = new Map<string, { handle: PullHandle; timer: NodeJS.Timeout | null }>();
  private readonly ruleHandles = new Map<string, PullHandle>();
  private rules: PullRule[] = [];
  private readonly badRules = new Set<string>();
  private readonly offs: (() => void)[] = [];
  private announced = new Map<string, string>();
  private announceSent = false;
  private announceTimer: NodeJS.Timeout | null = null;
  private reconcileTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(options: ForwardingOptions) {
    this.o = options;
    this.log = options.logger.child({ component: 'forwarding' });
    this.registry = new StreamRegistry(this.log, options.hub);
    this.host = { hub: options.hub, registry: this.registry, nodeName: options.nodeName, logger: this.log };
    this.grace = options.onDemandGraceMs ?? 10_000;
    this.retryMs = options.retryMs ?? 1_000;
  }

  /** Register the stream handlers and hub hooks. Call before the roles start. */
  start(): void {
    const { hub, server, client } = this.o;
    if (server) {
      this.offs.push(server.onStream(StreamKind.MediaPush, (s, ctx) => acceptPush(this.host, s, ctx)));
      this.offs.push(server.onStream(StreamKind.MediaPull, (s, ctx) => servePull(this.host, s, ctx, (p, c) => this.obtain(p, c))));
      this.offs.push(
        server.on('announce', ({ clientId, message }) => {
          this.registry.applyAnnounce(clientId, server.session(clientId)?.name ?? `client-${clientId}`, message);
          this.scheduleAnnounce();
        }),
      );
      this.offs.push(
        server.on('offline', ({ clientId }) => {
          this.registry.dropAnnounced(clientId);
          this.scheduleAnnounce();
        }),
      );
    }
    if (client) {
      this.offs.push(client.onStream(StreamKind.MediaPull, (s, ctx) => servePull(this.host, s, ctx, (p, c) => this.obtain(p, c))));
      this.offs.push(
        client.on('stateChanged', (st) => {
          if (st.state !== 'online') return;
          this.scheduleAnnounce(true);
          if (this.o.autopush) for (const info of hub.list()) this.maybePush(info.path);
          this.reconcileRules();
        }),
      );
      this.reconcileTimer = setInterval(() => this.reconcileRules(), this.retryMs);
      this.reconcileTimer.unref();
    }
    // The origin of a stream pushed or pulled in is recorded by hub.publish itself,
    // so a published listener already knows whether to push it.
    this.offs.push(
      hub.on('published', (info) => {
        this.maybePush(info.path);
        this.scheduleAnnounce();
      }),
      hub.on('unpublished', () => this.scheduleAnnounce()),
      hub.on('subscribersChanged', (path, count) => this.checkIdle(path, count)),
    );
    if (server || client) hub.setMissingStreamHandler((path) => this.obtain(path, []));
  }

  /** Stop every pull and timer (pushes end with the client link). Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const off of this.offs) off();
    this.offs.length = 0;
    if (this.o.server || this.o.client) this.o.hub.setMissingStreamHandler(null);
    if (this.announceTimer) clearTimeout(this.announceTimer);
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    for (const [, d] of this.onDemand) {
      if (d.timer) clearTimeout(d.timer);
      d.handle.cancel('node stopping');
    }
    this.onDemand.clear();
    for (const h of this.ruleHandles.values()) h.cancel('node stopping');
    this.ruleHandles.clear();
    this.registry.close();
  }

  /** Replace the pull rules (config + runtime). Removed rules stop their pull at once. */
  setPullRules(rules: readonly PullRule[]): void {
    this.rules = rules.map((r) => ({ ...r }));
    for (const [path, h] of this.ruleHandles) {
      if (!this.rules.some((r) => r.streamPath === path)) {
        h.cancel('pull rule removed');
        this.ruleHandles.delete(path);
      }
    }
    this.reconcileRules();
  }

  /** The pull rules in force. */
  pullRules(): PullRule[] {
    return this.rules.map((r) => ({ ...r }));
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

  private upperName(): string | null {
    return this.o.client?.status().serverName ?? null;
  }

  private clientOnline(): boolean {
    return this.o.client?.status().state === 'online';
  }

  // --- push up -------------------------------------------------------------

  private maybePush(path: string): void {
    const client = this.o.client;
    if (this.stopped || !client || !this.o.autopush || !this.clientOnline()) return;
    if (!this.o.hub.has(path) || this.pushes.has(path)) return;
    const inb = this.registry.inboundOf(path);
    if (inb && inb.direction === 'PULLED_IN') return; // never push back what was pulled
    const upper = this.upperName() ?? 'upper';
    const run = (async () => {
      const outcome = await pushOut(this.host, () => client.openStream(StreamKind.MediaPush), path, upper, null);
      this.pushes.delete(path);
      if (outcome.refused || this.stopped) return;
      // Dropped (link blip, too slow) while still live here: push again.
      setTimeout(() => this.maybePush(path), this.retryMs).unref();
    })();
    this.pushes.set(path, run);
  }

  // --- announce ------------------------------------------------------------

  private scheduleAnnounce(reset = false): void {
    if (!this.o.client || this.stopped) return;
    if (reset) {
      this.announced = new Map();
      this.announceSent = false;
    }
    if (this.announceTimer) return;
    this.announceTimer = setTimeout(() => {
      this.announceTimer = null;
      void this.sendAnnounce();
    }, 50);
    this.announceTimer.unref();
  }

  /** This node's announce set: path → chain (from the node that has it up to us). */
  private announceSet(): Map<string, string[]> {
    const me = this.o.nodeName;
    const out = new Map<string, string[]>();
    for (const node of this.registry.announcedNodes()) {
      for (const s of node.streams.values()) out.set(s.path, [...s.chain, me]);
    }
    for (const info of this.o.hub.list()) {
      const inb = this.registry.inboundOf(info.path);
      if (inb?.fromUpper) continue;
      if (inb?.direction === 'PULLED_IN') continue; // announced by the lower node already
      out.set(info.path, [...(inb?.chain ?? []), me]);
    }
    return out;
  }

  private async sendAnnounce(): Promise<void> {
    const client = this.o.client;
    if (!client || !this.clientOnline()) return;
    const reset = !this.announceSent;
    const next = this.announceSet();
    const added: { path: string; chain: string[] }[] = [];
    const removed: string[] = [];
    for (const [path, chain] of next) {
      const key = chain.join('\u0000');
      if (this.announced.get(path) !== key) added.push({ path, chain });
    }
    for (const path of this.announced.keys()) if (!next.has(path)) removed.push(path);
    if (!reset && added.length === 0 && removed.length === 0) return;
    try {
      await client.announce({ reset, added, removed });
      this.announced = new Map([...next].map(([p, c]) => [p, c.join('\u0000')]));
      this.announceSent = true;
    } catch (err) {
      this.log.debug({ err }, 'announce failed');
    }
  }

  // --- pull rules ----------------------------------------------------------

  private reconcileRules(): void {
    const client = this.o.client;
    if (this.stopped || !client || !this.clientOnline()) return;
    for (const rule of this.rules) {
      if (this.ruleHandles.has(rule.streamPath) || this.o.hub.has(rule.streamPath)) continue;
      const remote = pullUrlPath(rule.pullUrl);
      if (!remote || !isValidStreamPath(rule.streamPath) || !isValidStreamPath(remote)) {
        if (!this.badRules.has(rule.streamPath)) this.log.warn({ rule }, 'pull rule ignored: invalid stream path');
        this.badRules.add(rule.streamPath);
        continue;
      }
      const h = pullIn(this.host, {
        open: () => client.openStream(StreamKind.MediaPull),
        remotePath: remote,
        localPath: rule.streamPath,
        peerName: this.upperName() ?? 'upper',
        requestChain: [],
        fromUpper: true,
        onDemand: false,
      });
      this.ruleHandles.set(rule.streamPath, h);
      void h.done.then((reason) => {
        if (this.ruleHandles.get(rule.streamPath) === h) this.ruleHandles.delete(rule.streamPath);
        const r = h.refusal();
        if (r) this.log.debug({ streamPath: rule.streamPath, reason: r.reason }, 'pull rule: upper node does not have the stream yet; retrying');
        else this.log.info({ streamPath: rule.streamPath, reason }, 'pull rule: pull ended');
      });
    }
  }

  // --- on demand -----------------------------------------------------------

  /**
   * Get `path` from another node: the lower node that announced it, else the upper
   * node (never a node in `chain`). Resolves true once it is published here.
   */
  private async obtain(path: string, chain: string[]): Promise<boolean> {
    if (this.stopped) return false;
    if (this.o.hub.has(path)) return true;
    const existing = this.onDemand.get(path);
    if (existing) return existing.handle.accepted;
    const server = this.o.server;
    const exclude = [...chain, this.o.nodeName];
    const lower = server ? this.registry.whoAnnounced(path, exclude).filter((n) => server.session(n.clientId) !== null) : [];
    let handle: PullHandle | null = null;
    if (lower.length > 0 && server) {
      const node = lower[0]!;
      handle = pullIn(this.host, {
        open: () => server.openStream(node.clientId, StreamKind.MediaPull),
        remotePath: path,
        localPath: path,
        peerName: node.name,
        requestChain: chain,
        fromUpper: false,
        onDemand: true,
      });
    } else if (this.o.client && this.clientOnline()) {
      const upper = this.upperName();
      if (upper !== null && exclude.includes(upper)) return false;
      const client = this.o.client;
      handle = pullIn(this.host, {
        open: () => client.openStream(StreamKind.MediaPull),
        remotePath: path,
        localPath: path,
        peerName: upper ?? 'upper',
        requestChain: chain,
        fromUpper: true,
        onDemand: true,
      });
    }
    if (!handle) return false;
    const entry = { handle, timer: null as NodeJS.Timeout | null };
    this.onDemand.set(path, entry);
    void handle.done.then(() => {
      if (entry.timer) clearTimeout(entry.timer);
      if (this.onDemand.get(path) === entry) this.onDemand.delete(path);
    });
    const ok = await handle.accepted;
    if (ok) this.checkIdle(path, this.o.hub.get(path)?.subscribers ?? 0);
    return ok;
  }

  private checkIdle(path: string, count: number): void {
    const d = this.onDemand.get(path);
    if (!d) return;
    if (count > 0) {
      if (d.timer) clearTimeout(d.timer);
      d.timer = null;
      return;
    }
    if (d.timer) return;
    d.timer = setTimeout(() => {
      d.timer = null;
      if ((this.o.hub.get(path)?.subscribers ?? 0) > 0) return;
      this.log.info({ streamPath: path, graceMs: this.grace }, 'on-demand pull idle: closing');
      d.handle.cancel('on-demand pull idle');
    }, this.grace);
    d.timer.unref();
  }
}
