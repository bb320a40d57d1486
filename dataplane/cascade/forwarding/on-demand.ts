/**
 * On-demand pulls (PROTOCOL.md §10): a player, or a peer's pull, asks for a path this
 * node does not have; the node pulls it from the lower node that announced it, else
 * from its upper node (never from a node in the request's chain), and closes the pull
 * `graceMs` after its last subscriber left.
 */
import type { Logger } from 'pino';
import { StreamKind } from '../../protocol/index.js';
import { pullIn, type PullHandle } from './media-pull.js';
import { upperSide, type ForwardingContext } from './context.js';

export class OnDemand {
  private readonly pulls = new Map<string, { handle: PullHandle; timer: NodeJS.Timeout | null }>();
  private stopped = false;
  private readonly log: Logger;

  constructor(
    private readonly ctx: ForwardingContext,
    /** How long a pull stays after its last subscriber left, ms. */
    private readonly graceMs: number,
  ) {
    this.log = ctx.logger;
  }

  /**
   * Get `path` from another node (`chain`: the nodes the request passed through).
   * Resolves true once it is published here, false when it cannot be had.
   */
  async obtain(path: string, chain: string[]): Promise<boolean> {
    if (this.stopped) return false;
    const { hub } = this.ctx;
    if (hub.has(path)) return true;
    const existing = this.pulls.get(path);
    if (existing) return existing.handle.accepted;
    const handle = this.open(path, chain);
    if (!handle) return false;
    const entry = { handle, timer: null as NodeJS.Timeout | null };
    this.pulls.set(path, entry);
    void handle.done.then(() => {
      if (entry.timer) clearTimeout(entry.timer);
      if (this.pulls.get(path) === entry) this.pulls.delete(path);
    });
    const ok = await handle.accepted;
    if (ok) this.checkIdle(path, hub.get(path)?.subscribers ?? 0);
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
      this.log.info({ streamPath: path, graceMs: this.graceMs }, 'on-demand pull idle: closing');
      d.handle.cancel('on-demand pull idle');
    }, this.graceMs);
    d.timer.unref();
  }

  /** Stop every pull. Idempotent. */
  stop(): void {
    this.stopped = true;
    for (const d of this.pulls.values()) {
      if (d.timer) clearTimeout(d.timer);
      d.handle.cancel('node stopping');
    }
    this.pulls.clear();
  }

  /** Open the pull from the lower node that announced `path`, else from the upper node; null when neither may have it. */
  private open(path: string, chain: string[]): PullHandle | null {
    const { server, upper, registry, nodeName } = this.ctx;
    const exclude = [...chain, nodeName];
    const node = server ? registry.whoAnnounced(path, exclude).find((n) => server.session(n.clientId) !== null) : undefined;
    const common = { remotePath: path, localPath: path, requestChain: chain, onDemand: true };
    if (node !== undefined && server) {
      return pullIn(this.ctx, { ...common, open: () => server.openStream(node.clientId, StreamKind.MediaPull), peerName: node.name, fromUpper: false });
    }
    if (!upper) return null;
    const side = upperSide(upper);
    if (!side.online()) return null;
    const name = upper.status().serverName;
    if (name !== null && exclude.includes(name)) return null;
    return pullIn(this.ctx, { ...common, open: () => side.open(StreamKind.MediaPull), peerName: side.name(), fromUpper: true });
  }
}
