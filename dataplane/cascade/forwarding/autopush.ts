/**
 * Autopush (cascade-client.autopush): every stream published on this node or pushed
 * in from below is pushed to the upper node, again after every reconnect and after a
 * push that dropped while the stream is still live. A stream pulled in from anywhere
 * is never pushed (PROTOCOL.md §10).
 */
import { StreamKind } from '../../protocol/index.js';
import type { ForwardingHost } from './media-open.js';
import { pushOut } from './media-push.js';
import type { UpperSide } from './context.js';

export class Autopush {
  /** Running pushes by path. */
  private readonly pushes = new Map<string, Promise<void>>();
  private readonly retries = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly host: ForwardingHost,
    private readonly upper: UpperSide,
    /** Delay before a dropped push is tried again, ms. */
    private readonly retryMs: number,
  ) {}

  /** The link is up (again): push every live stream. */
  pushAll(): void {
    for (const info of this.host.hub.list()) this.maybePush(info.path);
  }

  /** Push `path` unless it is pushed already, was pulled in, or the link is down. */
  maybePush(path: string): void {
    if (this.stopped || !this.upper.online()) return;
    if (!this.host.hub.has(path) || this.pushes.has(path)) return;
    if (this.host.registry.inboundOf(path)?.direction === 'PULLED_IN') return; // never push back what was pulled
    const run = (async () => {
      const outcome = await pushOut(this.host, () => this.upper.open(StreamKind.MediaPush), path, this.upper.name(), null);
      this.pushes.delete(path);
      if (outcome.refused || this.stopped) return;
      // Dropped (link blip, too slow) while still live here: push again.
      const timer = setTimeout(() => {
        this.retries.delete(timer);
        this.maybePush(path);
      }, this.retryMs);
      timer.unref();
      this.retries.add(timer);
    })();
    this.pushes.set(path, run);
  }

  /** No new pushes (running ones end with the link). Idempotent. */
  stop(): void {
    this.stopped = true;
    for (const t of this.retries) clearTimeout(t);
    this.retries.clear();
  }
}
