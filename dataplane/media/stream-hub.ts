/**
 * The stream hub: the one seam between protocols and streams. RTMP, HTTP-FLV,
 * WS-FLV and cascade sessions all publish and subscribe through it:
 *
 *   const pub = hub.publish('live/cam', { protocol: 'cascade', remote: 'hq' }, origin);
 *   pub.write(createMediaTag('video', ts, body));   // sync, never blocks
 *   const sub = hub.subscribe('live/cam', { protocol: 'cascade', remote: 'edge-1' });
 *   for await (const tag of sub) send(tag);         // headers + GOP first, then live
 *
 * The control plane observes `published`, `updated`, `unpublished` and
 * `subscribersChanged`. An exception in a listener is logged, never propagated.
 */
import type { Logger } from 'pino';
import { InvalidStreamPathError, MediaClosedError, StreamBusyError } from './errors.js';
import {
  LiveStream,
  type GopCacheOptions,
  type Publisher,
  type PublisherInfo,
  type StreamInfo,
  type StreamTraffic,
  type SubscriberSnapshot,
} from './live-stream.js';
import { Emitter } from '../events.js';
import { isValidStreamPath } from './stream-path.js';
import type { Subscriber, SubscriberInfo, SubscriberOptions } from './stream-subscriber.js';

/** Events of a {@link StreamHub}. */
export type StreamHubEvents = {
  /** A stream got a publisher. Codec details may still be null (see `updated`). */
  published: [info: StreamInfo];
  /** Codec details or metadata of a stream became known or changed. */
  updated: [info: StreamInfo];
  /** A stream lost its publisher; its subscribers are being ended. `traffic`: its byte counts at that moment. */
  unpublished: [path: string, reason: string, traffic: StreamTraffic];
  /** The number of subscribers of a stream changed. */
  subscribersChanged: [path: string, count: number];
};

/** Options of {@link StreamHub}. */
export interface StreamHubOptions {
  logger: Logger;
  /** Default queue bounds of every subscriber. */
  subscriber?: SubscriberOptions;
  /** GOP cache bounds per stream. */
  gopCache?: GopCacheOptions;
}

/**
 * Consulted when a subscriber (`requester`) asks for a stream nobody publishes
 * (the cascade: an on-demand pull from another node). Resolve true when a publish
 * for the path is expected soon; the hub then waits for it.
 */
export type MissingStreamHandler = (path: string, requester: SubscriberInfo) => Promise<boolean>;

/**
 * Where a published stream came from, as the layer that publishes it describes it
 * (the cascade's inbound record: pushed in or pulled in, from which node, through
 * which chain). Opaque to the hub: it keeps the value with the stream from the
 * publish to the unpublish, so it is known to every `published` listener.
 */
export type StreamOrigin = object;

/** Registry of live streams. */
export class StreamHub extends Emitter<StreamHubEvents> {
  private readonly logger: Logger;
  private readonly streams = new Map<string, LiveStream>();
  private readonly origins = new Map<string, StreamOrigin>();
  private readonly waiters = new Map<string, Set<(ok: boolean) => void>>();
  private missingHandler: MissingStreamHandler | null = null;
  private readonly subscriberDefaults: SubscriberOptions;
  private readonly gopCache: GopCacheOptions;
  private isClosed = false;

  constructor({ logger, subscriber = {}, gopCache = {} }: StreamHubOptions) {
    super(logger);
    this.logger = logger;
    this.subscriberDefaults = subscriber;
    this.gopCache = gopCache;
  }

  /** True once {@link StreamHub.close} was called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Start publishing `path`, recording where it came from (`origin`, null for a
   * stream published on this node) before anyone hears of it. Throws
   * {@link StreamBusyError} when it already has a publisher (which is left
   * untouched), {@link InvalidStreamPathError} for a bad path,
   * {@link MediaClosedError} after `close()`.
   */
  publish(path: string, info: PublisherInfo, origin: StreamOrigin | null = null): Publisher {
    if (this.isClosed) throw new MediaClosedError('stream hub');
    if (!isValidStreamPath(path)) throw new InvalidStreamPathError(path);
    if (this.streams.has(path)) throw new StreamBusyError(path);
    const logger = this.logger.child({ streamPath: path });
    const stream = new LiveStream(path, info, logger, this.gopCache, this.subscriberDefaults, {
      subscribersChanged: (s) => {
        if (this.streams.get(s.path) === s) this.emit('subscribersChanged', s.path, s.subscriberCount);
      },
      updated: (s) => {
        if (this.streams.get(s.path) === s) this.emit('updated', s.info());
      },
      ended: (s, reason) => {
        if (this.streams.get(s.path) !== s) return;
        this.streams.delete(s.path);
        this.origins.delete(s.path);
        logger.info({ reason, publisher: info }, 'stream unpublished');
        this.emit('unpublished', s.path, reason, s.traffic());
      },
    });
    this.streams.set(path, stream);
    if (origin !== null) this.origins.set(path, origin);
    logger.info({ publisher: info }, 'stream published');
    this.emit('published', stream.info());
    const waiting = this.waiters.get(path);
    if (waiting !== undefined) {
      this.waiters.delete(path);
      for (const w of waiting) w(true);
    }
    return stream.publisher;
  }

  /**
   * Subscribe to a live stream, or null when nobody publishes `path`. The
   * subscriber first receives metadata, sequence headers and the cached GOP
   * (so it starts on a keyframe), then live tags.
   */
  subscribe(path: string, info: SubscriberInfo, opts?: SubscriberOptions): Subscriber | null {
    if (this.isClosed) return null;
    const stream = this.streams.get(path);
    if (stream === undefined || stream.ended) return null;
    return stream.subscribe(info, opts);
  }

  /**
   * Like {@link StreamHub.subscribe}, but when the stream is missing and a
   * missing-stream handler is set, ask it and wait up to `timeoutMs` for the
   * publish. Without a handler this returns at once.
   */
  async subscribeOrWait(
    path: string,
    info: SubscriberInfo,
    timeoutMs: number,
    opts?: SubscriberOptions,
  ): Promise<Subscriber | null> {
    const now = this.subscribe(path, info, opts);
    if (now !== null || this.missingHandler === null || this.isClosed || !isValidStreamPath(path)) return now;
    const published = this.waitForPublish(path, timeoutMs);
    let expected = false;
    try {
      expected = await this.missingHandler(path, info);
    } catch (err) {
      this.logger.warn({ err, streamPath: path }, 'missing-stream handler failed');
    }
    if (!expected && !this.streams.has(path)) return null;
    await published;
    return this.subscribe(path, info, opts);
  }

  /** Resolves true as soon as `path` is published (at once if it is), false after `timeoutMs` or on close. */
  waitForPublish(path: string, timeoutMs: number): Promise<boolean> {
    if (this.streams.has(path)) return Promise.resolve(true);
    if (this.isClosed) return Promise.resolve(false);
    return new Promise((resolve) => {
      let set = this.waiters.get(path);
      if (set === undefined) {
        set = new Set();
        this.waiters.set(path, set);
      }
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        resolve(ok);
      };
      const timer = setTimeout(() => {
        const s = this.waiters.get(path);
        s?.delete(done);
        if (s?.size === 0) this.waiters.delete(path);
        resolve(false);
      }, timeoutMs);
      set.add(done);
    });
  }

  /** Set (or clear with null) the handler consulted by {@link StreamHub.subscribeOrWait}. */
  setMissingStreamHandler(handler: MissingStreamHandler | null): void {
    this.missingHandler = handler;
  }

  /** True when a missing-stream handler is set. */
  get hasMissingStreamHandler(): boolean {
    return this.missingHandler !== null;
  }

  /** The origin given to {@link StreamHub.publish} of a live stream, or null. */
  originOf(path: string): StreamOrigin | null {
    return this.origins.get(path) ?? null;
  }

  /** Snapshot of one stream, or undefined. */
  get(path: string): StreamInfo | undefined {
    return this.streams.get(path)?.info();
  }

  /** The subscribers of a stream with their queue counters (empty when not live). */
  subscribers(path: string): SubscriberSnapshot[] {
    return this.streams.get(path)?.subscriberSnapshots() ?? [];
  }

  /** True when `path` has a publisher. */
  has(path: string): boolean {
    return this.streams.has(path);
  }

  /** Byte counts of every live stream (see {@link StreamTraffic}). */
  traffic(): Array<StreamTraffic & { path: string }> {
    return [...this.streams.values()].map((s) => ({ path: s.path, ...s.traffic() }));
  }

  /** Snapshots of every live stream, ordered by path. */
  list(): StreamInfo[] {
    return [...this.streams.keys()].sort().map((p) => (this.streams.get(p) as LiveStream).info());
  }

  /** Close every stream and its subscribers (at once, reason `'hub closed'`) and refuse new ones. Idempotent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const stream of [...this.streams.values()]) {
      stream.closeSubscribers('hub closed');
      stream.publisher.close('hub closed');
    }
    for (const set of this.waiters.values()) for (const w of set) w(false);
    this.waiters.clear();
  }
}
