/**
 * Live streams of this node, as the APIs show them. Reads the data plane's
 * stream hub and turns its events into `streamChanged` events (subscriber
 * count changes are throttled per stream).
 */
import type { StreamHub, StreamInfo } from '../../dataplane/media/index.js';
import type { EventBus } from './event-bus.js';
import type { NodeEvents, StreamEventKind } from './events.js';

export type { StreamInfo };

export class StreamService {
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly offs: (() => void)[] = [];

  constructor(
    private readonly hub: StreamHub,
    private readonly events: EventBus<NodeEvents>,
    /** Minimum interval between SUBSCRIBERS events of one stream, ms. */
    private readonly throttleMs = 500,
  ) {
    this.offs.push(
      hub.on('published', (info) => this.emit('PUBLISHED', info.path, info)),
      hub.on('updated', (info) => this.emit('UPDATED', info.path, info)),
      hub.on('unpublished', (path) => {
        const t = this.pending.get(path);
        if (t) clearTimeout(t);
        this.pending.delete(path);
        this.emit('UNPUBLISHED', path, null);
      }),
      hub.on('subscribersChanged', (path) => this.throttledSubscribers(path)),
    );
  }

  private emit(kind: StreamEventKind, path: string, stream: StreamInfo | null): void {
    this.events.publish('streamChanged', { kind, path, stream });
  }

  private throttledSubscribers(path: string): void {
    if (this.pending.has(path)) return;
    this.pending.set(
      path,
      setTimeout(() => {
        this.pending.delete(path);
        const info = this.hub.get(path);
        if (info) this.emit('SUBSCRIBERS', path, info);
      }, this.throttleMs),
    );
  }

  list(): StreamInfo[] {
    return this.hub.list().sort((a, b) => a.path.localeCompare(b.path));
  }

  get(path: string): StreamInfo | null {
    return this.hub.get(path) ?? null;
  }

  close(): void {
    for (const off of this.offs) off();
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
  }
}
