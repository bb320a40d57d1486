/**
 * A consumer of one live stream (a player, or a cascade session sending the
 * stream to another node). Pulled: `next()` / `poll()` / `for await`.
 *
 * Each subscriber has a bounded queue (bytes and duration). When a push would
 * exceed the bound, the queued audio/video is discarded and the subscriber
 * skips ahead to the next video keyframe (sequence headers and metadata are
 * kept). A subscriber that skips `maxSkips` times within `skipWindowMs`, or
 * that reads nothing for `maxIdleMs` while data waits, is dropped (closed with
 * reason `'too slow'`) with a warn log line. The publisher and other
 * subscribers never wait for it.
 */
import type { Logger } from 'pino';
import type { MediaTag } from './media-tag.js';
import { Emitter } from '../events.js';

/** Who is subscribing (for logs and stream info). */
export interface SubscriberInfo {
  /** 'rtmp', 'http-flv', 'ws-flv', 'cascade', ... */
  protocol: string;
  /** Remote address (ip:port) or peer node id. */
  remote: string;
  /** Query string of the play URL (without `?`), kept for later auth. */
  query?: string;
}

/** Queue bounds of a subscriber. */
export interface SubscriberOptions {
  /** Most bytes queued before skipping to the next keyframe. Default 8 MiB. */
  maxQueueBytes?: number;
  /** Most media time queued (newest - oldest timestamp) before skipping, ms. Default 5_000. */
  maxQueueDurationMs?: number;
  /** Skips within `skipWindowMs` after which the subscriber is dropped. Default 3. */
  maxSkips?: number;
  /** Window for counting skips, ms. Default 30_000 (30 s). */
  skipWindowMs?: number;
  /** Drop when nothing was read for this long while data is queued, ms. Default 10_000. */
  maxIdleMs?: number;
}

/** Events of a {@link Subscriber}. */
export type SubscriberEvents = {
  /** Closed: `'unpublished'`, `'too slow'`, `'closed'`, `'hub closed'`, or the caller's reason. */
  close: [reason: string];
};

/** Queue and delivery counters of a subscriber. */
export interface SubscriberStats {
  queuedTags: number;
  queuedBytes: number;
  deliveredTags: number;
  /** Bytes of tag bodies handed to the reader so far. */
  deliveredBytes: number;
  skips: number;
}

let nextSubscriberId = 1;

/** One consumer of a live stream; created by {@link StreamHub.subscribe}. */
export class Subscriber extends Emitter<SubscriberEvents> {
  /** Process-unique id. */
  readonly id = nextSubscriberId++;
  private queue: MediaTag[] = [];
  private head = 0;
  private bytes = 0;
  /** Tags/bytes at the head of the queue from the initial burst; not counted against the bounds. */
  private primedTags = 0;
  private primedBytes = 0;
  private waiter: ((tag: MediaTag | null) => void) | null = null;
  private waitKeyframe = false;
  private ended = false;
  private isClosed = false;
  private lastReadAt = Date.now();
  private skipTimes: number[] = [];
  private endTimer: NodeJS.Timeout | null = null;
  private delivered = 0;
  private deliveredBytes = 0;
  private skipCount = 0;
  private readonly maxBytes: number;
  private readonly maxDuration: number;
  private readonly maxSkips: number;
  private readonly skipWindow: number;
  private readonly maxIdle: number;

  constructor(
    readonly path: string,
    readonly info: SubscriberInfo,
    private readonly logger: Logger,
    private readonly hasVideo: () => boolean,
    private readonly onClose: (sub: Subscriber) => void,
    {
      maxQueueBytes = 8 * 1024 * 1024, // 8 MiB
      maxQueueDurationMs = 5_000, // 5 seconds
      maxSkips = 3,
      skipWindowMs = 30_000, // 30 seconds
      maxIdleMs = 10_000, // 10 seconds
    }: SubscriberOptions = {},
  ) {
    super(logger);
    this.maxBytes = maxQueueBytes;
    this.maxDuration = maxQueueDurationMs;
    this.maxSkips = maxSkips;
    this.skipWindow = skipWindowMs;
    this.maxIdle = maxIdleMs;
  }

  /** True once closed; `next()` then resolves null. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Queue and delivery counters. */
  get stats(): SubscriberStats {
    return {
      queuedTags: this.queue.length - this.head,
      queuedBytes: this.bytes,
      deliveredTags: this.delivered,
      deliveredBytes: this.deliveredBytes,
      skips: this.skipCount,
    };
  }

  /** Next tag without waiting: a tag, `undefined` when none is queued, or `null` at the end. */
  poll(): MediaTag | null | undefined {
    this.lastReadAt = Date.now();
    if (this.head < this.queue.length) return this.shift();
    if (this.isClosed) return null;
    if (this.ended) {
      this.close('unpublished');
      return null;
    }
    return undefined;
  }

  /** Next tag, waiting for one; `null` once the stream ended or the subscriber closed. */
  next(): Promise<MediaTag | null> {
    const t = this.poll();
    if (t !== undefined) return Promise.resolve(t);
    if (this.waiter !== null) return Promise.reject(new Error('concurrent next() on a subscriber'));
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<MediaTag, void, undefined> {
    for (;;) {
      const tag = await this.next();
      if (tag === null) return;
      yield tag;
    }
  }

  /** Close (idempotent). Queued tags are discarded; a pending `next()` resolves null. */
  close(reason = 'closed'): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.queue = [];
    this.head = 0;
    this.bytes = 0;
    this.primedTags = 0;
    this.primedBytes = 0;
    if (this.endTimer !== null) clearTimeout(this.endTimer);
    const w = this.waiter;
    this.waiter = null;
    if (w !== null) w(null);
    this.onClose(this);
    this.emit('close', reason);
  }

  // ------------------------------------------------------------ stream side

  /**
   * @internal Initial burst (metadata, headers, GOP). It is bounded by the GOP
   * cache and not counted against the queue bounds, so a long GOP does not
   * make a new reader skip at once.
   */
  prime(tags: readonly MediaTag[], startsOnKeyframe: boolean): void {
    for (const tag of tags) this.enqueue(tag);
    this.primedTags = tags.length;
    this.primedBytes = this.bytes;
    this.waitKeyframe = !startsOnKeyframe && this.hasVideo();
  }

  /** @internal The publisher ended: deliver what is queued, then end. */
  end(): void {
    if (this.isClosed || this.ended) return;
    this.ended = true;
    if (this.waiter !== null || this.head >= this.queue.length) {
      this.close('unpublished');
      return;
    }
    // Give a reader that is still draining a bounded time to finish.
    this.endTimer = setTimeout(() => this.close('unpublished'), this.maxIdle);
    this.endTimer.unref();
  }

  /** @internal A live tag from the publisher. Never blocks. */
  push(tag: MediaTag, now: number): void {
    if (this.isClosed || this.ended) return;
    if (this.waiter !== null) {
      // Reader is waiting: hand over directly (no queueing).
      if (this.waitKeyframe && !this.passesWhileSkipping(tag)) return;
      const w = this.waiter;
      this.waiter = null;
      this.delivered++;
      this.deliveredBytes += tag.data.length;
      w(tag);
      return;
    }
    if (this.waitKeyframe && !this.passesWhileSkipping(tag)) return;
    if (this.head < this.queue.length && now - this.lastReadAt > this.maxIdle) {
      this.logger.warn({ subscriber: this.id, idleMs: now - this.lastReadAt }, 'subscriber stopped reading; dropped');
      this.close('too slow');
      return;
    }
    this.enqueue(tag);
    if (this.bytes - this.primedBytes > this.maxBytes || this.queuedDuration() > this.maxDuration) this.skip(now);
  }

  private passesWhileSkipping(tag: MediaTag): boolean {
    if (tag.type === 'script' || tag.sequenceHeader) return true;
    if (tag.type === 'video' && tag.keyframe) {
      this.waitKeyframe = false;
      return true;
    }
    return false;
  }

  private enqueue(tag: MediaTag): void {
    this.queue.push(tag);
    this.bytes += tag.data.length;
  }

  private shift(): MediaTag {
    const tag = this.queue[this.head] as MediaTag;
    this.head++;
    this.bytes -= tag.data.length;
    this.delivered++;
    this.deliveredBytes += tag.data.length;
    if (this.primedTags > 0) {
      this.primedTags--;
      this.primedBytes -= tag.data.length;
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return tag;
  }

  /** Media time of the live (not primed) part of the queue. */
  private queuedDuration(): number {
    const start = this.head + this.primedTags;
    if (start >= this.queue.length) return 0;
    const first = this.queue[start] as MediaTag;
    const last = this.queue[this.queue.length - 1] as MediaTag;
    const d = (last.timestamp - first.timestamp) | 0;
    return d < 0 ? 0 : d;
  }

  private skip(now: number): void {
    this.skipCount++;
    const kept = this.queue.slice(this.head).filter((t) => t.type === 'script' || t.sequenceHeader);
    this.queue = kept;
    this.head = 0;
    this.bytes = 0;
    this.primedTags = 0;
    this.primedBytes = 0;
    for (const t of kept) this.bytes += t.data.length;
    this.waitKeyframe = this.hasVideo();
    this.skipTimes.push(now);
    while (this.skipTimes.length > 0 && now - (this.skipTimes[0] as number) > this.skipWindow) this.skipTimes.shift();
    this.logger.debug({ subscriber: this.id, skips: this.skipCount }, 'subscriber behind; skipping to next keyframe');
    if (this.skipTimes.length >= this.maxSkips) {
      this.logger.warn(
        { subscriber: this.id, skips: this.skipTimes.length, windowMs: this.skipWindow },
        'subscriber stays behind; dropped',
      );
      this.close('too slow');
    }
  }
}
