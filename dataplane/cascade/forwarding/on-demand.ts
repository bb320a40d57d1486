/**
 * On-demand pulls (PROTOCOL.md §10): a player, or a peer's pull, asks for a path this
 * node does not have; the node pulls it from the lower node that announced it, else
 * from its upper node (never from a node in the request's chain), and closes the pull
 * `graceMs` after its last subscriber left.
 *
 * Anyone who can reach the player port can ask for any path, so the work is bounded:
 * at most `maxPending` pulls being opened at once on this node and `maxPendingPerClient`
 * per player address (the excess is answered "not found" at once), and a path that
 * was refused or failed is answered "not found" for `missTtlMs` without asking again.
 */
import type { Logger } from 'pino';
import { StreamKind } from '../../protocol/index.js';
import type { SubscriberInfo } from '../../media/stream-subscriber.js';
import { pullIn, type PullHandle } from './media-pull.js';
import { upperSide, type ForwardingContext } from './context.js';

/** Limits of on-demand pulls. */
export interface OnDemandLimits {
  /** How long a pull stays after its last subscriber left, ms. */
  graceMs: number;
  /** Most pulls being opened (not yet accepted or refused) at once on this node. */
  maxPending: number;
  /** Most pulls being opened at once for one player address. */
  maxPendingPerClient: number;
  /** How long a refused or failed path is answered "not found" without a new pull, ms (0: not remembered). */
  missTtlMs: number;
}

/** Defaults of {@link OnDemandLimits}. */
export const DEFAULT_ON_DEMAND: Readonly<OnDemandLimits> = Object.freeze({
  graceMs: 10_000, // 10 seconds
  maxPending: 64,
  maxPendingPerClient: 8,
  missTtlMs: 3_000, // 3 seconds
});

/** Most misses remembered; the oldest are forgotten first. */
const MAX_MISSES = 10_000;
/** Least time between two warnings about pulls refused by the limits, ms. */
const LIMIT_WARN_MS = 5_000;

/** The address part of a subscriber's `remote` ("ip:port", "[v6]:port" or "v6:port"). */
export function clientAddress(remote: string): string {
  const i = remote.lastIndexOf(':');
  let host = i > 0 && /^\d+$/.test(remote.slice(i + 1)) ? remote.slice(0, i) : remote;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return host.startsWith('::ffff:') ? host.slice(7) : host;
}

export class OnDemand {
  private readonly pulls = new Map<string, { handle: PullHandle; timer: NodeJS.Timeout | null }>();
  /** Path → when its miss is forgotten (monotonic ms). */
  private readonly misses = new Map<string, number>();
  private pending = 0;
  private readonly pendingByClient = new Map<string, number>();
  private refusedByLimit = 0;
  private lastLimitWarn = -Infinity;
  private stopped = false;
  private readonly log: Logger;

  constructor(
    private readonly ctx: ForwardingContext,
    private readonly limits: OnDemandLimits,
  ) {
    this.log = ctx.logger;
  }

  /**
   * Get `path` from another node for a player (`requester`) or a peer's pull (`chain`:
   * the nodes the request passed through). Resolves true once it is published here,
   * false when it cannot be had (or not now).
   */
  async obtain(path: string, chain: string[], requester: SubscriberInfo | null): Promise<boolean> {
    if (this.stopped) return false;
    const { hub } = this.ctx;
    if (hub.has(path)) return true;
    const existing = this.pulls.get(path);
    if (existing) return existing.handle.accepted;
    if (this.missed(path)) return false;
    const client = requester === null ? null : clientAddress(requester.remote);
    if (!this.admit(path, client)) return false;
    const handle = this.open(path, chain);
    if (!handle) {
      this.release(client);
      return false;
    }
    const entry = { handle, timer: null as NodeJS.Timeout | null };
    this.pulls.set(path, entry);
    void handle.done.then(() => {
      if (entry.timer) clearTimeout(entry.timer);
      if (this.pulls.get(path) === entry) this.pulls.delete(path);
    });
    let ok = false;
    try {
      ok = await handle.accepted;
    } finally {
      this.release(client);
    }
    if (ok) this.checkIdle(path, hub.get(path)?.subscribers ?? 0);
    else if (!this.stopped && this.lowerWith(path, chain) === undefined) this.remember(path); // not announced meanwhile
    return ok;
  }

  /** A subscriber count changed: start or stop the idle timer of an on-demand pull. */
  checkIdle(path: string, count: number): void {
    const d = this.pulls.get(path);
    if (!d) return;
    if (count > 0) {
      if (d.timer) clearTimeout(d.timer);
      d.timer = null;
      return;
    }
    if (d.timer) return;
    d.timer = setTimeout(() => {
      d.timer = null;
      if ((this.ctx.hub.get(path)?.subscribers ?? 0) > 0) return;
      this.log.info({ streamPath: path, graceMs: this.limits.graceMs }, 'on-demand pull idle: closing');
      d.handle.cancel('on-demand pull idle');
    }, this.limits.graceMs);
    d.timer.unref();
  }

  /** Paths a lower node announced: whatever was missed of them may be had now. */
  forgetMisses(paths: Iterable<string>): void {
    for (const p of paths) this.misses.delete(p);
  }

  /** Stop every pull. Idempotent. */
  stop(): void {
    this.stopped = true;
    for (const d of this.pulls.values()) {
      if (d.timer) clearTimeout(d.timer);
      d.handle.cancel('node stopping');
    }
    this.pulls.clear();
    this.misses.clear();
  }

  /** Open the pull from the lower node that announced `path`, else from a peer that has it, else from the upper node; null when none may have it. */
  private open(path: string, chain: string[]): PullHandle | null {
    const { server, upper, peers, nodeName } = this.ctx;
    const exclude = [...chain, nodeName];
    const node = this.lowerWith(path, chain);
    const common = { remotePath: path, localPath: path, requestChain: chain, onDemand: true };
    if (node !== undefined && server) {
      return pullIn(this.ctx, { ...common, open: () => server.openStream(node.clientId, StreamKind.MediaPull), peerName: node.name, fromUpper: false });
    }
    const peer = peers?.find(path, exclude) ?? null;
    if (peer) return pullIn(this.ctx, { ...common, open: () => peer.open(StreamKind.MediaPull), peerName: peer.name, fromUpper: false });
    if (!upper) return null;
    const side = upperSide(upper, this.ctx.holdMs);
    if (!side.online()) return null;
    const name = upper.status().serverName;
    if (name !== null && exclude.includes(name)) return null;
    return pullIn(this.ctx, { ...common, open: () => side.open(StreamKind.MediaPull), peerName: side.name(), fromUpper: true, resume: side.resume });
  }

  /** A linked lower node that announced `path` and is not in `chain`. */
  private lowerWith(path: string, chain: string[]): { clientId: number; name: string } | undefined {
    const { server, registry, nodeName } = this.ctx;
    if (!server) return undefined;
    return registry.whoAnnounced(path, [...chain, nodeName]).find((n) => server.session(n.clientId) !== null);
  }

  private missed(path: string): boolean {
    const until = this.misses.get(path);
    if (until === undefined) return false;
    if (performance.now() < until) return true;
    this.misses.delete(path);
    return false;
  }

  private remember(path: string): void {
    if (this.limits.missTtlMs <= 0) return;
    this.misses.delete(path);
    this.misses.set(path, performance.now() + this.limits.missTtlMs);
    if (this.misses.size > MAX_MISSES) {
      const oldest = this.misses.keys().next();
      if (!oldest.done) this.misses.delete(oldest.value);
    }
  }

  /** Take a pending slot for the node and the player's address, or refuse (logged, throttled). */
  private admit(path: string, client: string | null): boolean {
    const perClient = client === null ? 0 : (this.pendingByClient.get(client) ?? 0);
    if (this.pending >= this.limits.maxPending || (client !== null && perClient >= this.limits.maxPendingPerClient)) {
      this.refusedByLimit++;
      const now = performance.now();
      if (now - this.lastLimitWarn >= LIMIT_WARN_MS) {
        this.lastLimitWarn = now;
        this.log.warn(
          { streamPath: path, client, refused: this.refusedByLimit, pending: this.pending, maxPending: this.limits.maxPending, maxPendingPerClient: this.limits.maxPendingPerClient },
          'on-demand pulls at their limit: refusing more for now',
        );
        this.refusedByLimit = 0;
      }
      return false;
    }
    this.pending++;
    if (client !== null) this.pendingByClient.set(client, perClient + 1);
    return true;
  }

  private release(client: string | null): void {
    this.pending--;
    if (client === null) return;
    const n = (this.pendingByClient.get(client) ?? 1) - 1;
    if (n <= 0) this.pendingByClient.delete(client);
    else this.pendingByClient.set(client, n);
  }
}
