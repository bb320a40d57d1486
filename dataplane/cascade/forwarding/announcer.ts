/**
 * ANNOUNCE to the upper node (PROTOCOL.md §10): this node's streams (those it did not
 * get from its upper node and did not pull in) and every stream its lower nodes
 * announced, as deltas at most every 50 ms, a full list (`reset`) after each WELCOME.
 */
import type { ForwardingHost } from './media-open.js';
import type { Upstream } from '../link/upstream-supervisor.js';

/** Delay that gathers changes into one ANNOUNCE, ms. */
const ANNOUNCE_DELAY_MS = 50;

export class Announcer {
  /** What the upper node was last told: path → chain joined by NUL. */
  private announced = new Map<string, string>();
  private sent = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly host: ForwardingHost,
    private readonly upper: Upstream,
  ) {}

  /** Announce the changes soon; `reset`: the link is new, tell the whole list. */
  schedule(reset = false): void {
    if (this.stopped) return;
    if (reset) {
      this.announced = new Map();
      this.sent = false;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.send();
    }, ANNOUNCE_DELAY_MS);
    this.timer.unref();
  }

  /** Idempotent. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** This node's announce set: path → chain (from the node that has it up to us). */
  private current(): Map<string, string[]> {
    const me = this.host.nodeName;
    const out = new Map<string, string[]>();
    for (const node of this.host.registry.announcedNodes()) {
      for (const s of node.streams.values()) out.set(s.path, [...s.chain, me]);
    }
    for (const info of this.host.hub.list()) {
      const inb = this.host.registry.inboundOf(info.path);
      if (inb?.fromUpper) continue;
      if (inb?.direction === 'PULLED_IN') continue; // announced by the lower node already
      out.set(info.path, [...(inb?.chain ?? []), me]);
    }
    return out;
  }

  private async send(): Promise<void> {
    if (this.upper.status().state !== 'online') return;
    const reset = !this.sent;
    const next = this.current();
    const added: { path: string; chain: string[] }[] = [];
    const removed: string[] = [];
    for (const [path, chain] of next) {
      if (this.announced.get(path) !== chain.join('\u0000')) added.push({ path, chain });
    }
    for (const path of this.announced.keys()) if (!next.has(path)) removed.push(path);
    if (!reset && added.length === 0 && removed.length === 0) return;
    try {
      await this.upper.announce({ reset, added, removed });
      this.announced = new Map([...next].map(([p, c]) => [p, c.join('\u0000')]));
      this.sent = true;
    } catch (err) {
      this.host.logger.debug({ err }, 'announce failed');
    }
  }
}
