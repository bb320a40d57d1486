/**
 * One live stream inside the hub: its publisher, metadata, codec sequence
 * headers, the last GOP, its subscribers and rolling statistics. Also the
 * {@link Publisher} handle given to whoever publishes it.
 */
import type { Logger } from 'pino';
import { amf0Props, decodeAmf0Value, type Amf0Object } from './amf0.js';
import { parseAudioTag, parseVideoSequenceHeader, videoCodecName } from './codec-info.js';
import { createMediaTag, type MediaTag } from './media-tag.js';
import { Emitter } from '../events.js';
import { Subscriber, type SubscriberInfo, type SubscriberOptions, type SubscriberStats } from './stream-subscriber.js';
import { copyBytes } from './bytes.js';

/** Who publishes a stream. */
export interface PublisherInfo {
  /** 'rtmp', 'cascade', ... */
  protocol: string;
  /** Remote address (ip:port) or upstream node id. */
  remote: string;
  /** Query string given at publish time (without `?`), kept for later auth. */
  query?: string;
}

/** Video part of {@link StreamInfo}. */
export interface VideoStreamInfo {
  /** 'h264', 'hevc', 'av1', ... */
  codec: string;
  width: number;
  height: number;
  /** Measured frames per second (metadata framerate until measured). */
  fps: number;
  profile?: string;
  level?: number;
}

/** Audio part of {@link StreamInfo}. */
export interface AudioStreamInfo {
  /** 'aac', 'mp3', 'opus', ... */
  codec: string;
  sampleRate: number;
  channels: number;
  profile?: string;
}

/** A snapshot of a live stream, as the control plane lists it. */
export interface StreamInfo {
  /** `app/name`. */
  path: string;
  video: VideoStreamInfo | null;
  audio: AudioStreamInfo | null;
  /** Rolling bitrate of audio+video+script bodies, kbit/s. */
  bitrateKbps: number;
  publisher: PublisherInfo;
  /** Current number of subscribers. */
  subscribers: number;
  startedAt: Date;
}

/** One subscriber of a stream, for admin views and tests. */
export interface SubscriberSnapshot extends SubscriberInfo, SubscriberStats {
  id: number;
}

/** Bytes of tag bodies a stream took in from its publisher and delivered to its subscribers, since it was published. */
export interface StreamTraffic {
  bytesIn: number;
  bytesOut: number;
}

/** GOP cache bounds. Past either, the cache is emptied until the next keyframe. */
export interface GopCacheOptions {
  /** Default 16 MiB. */
  maxBytes?: number;
  /** Default 8192 tags. */
  maxTags?: number;
}

/** Events of a {@link Publisher}. */
export type PublisherEvents = {
  close: [reason: string];
};

const STATS_WINDOW_MS = 2_000;

/** The write side of a live stream; created by {@link StreamHub.publish}. */
export class Publisher extends Emitter<PublisherEvents> {
  constructor(
    readonly path: string,
    readonly info: PublisherInfo,
    private readonly stream: LiveStream,
    logger: Logger,
  ) {
    super(logger);
  }

  /** True once closed. */
  get closed(): boolean {
    return this.stream.ended;
  }

  /**
   * Deliver one tag to the stream and every subscriber. Synchronous, never
   * blocks, never throws for bad media; returns false once closed.
   */
  write(tag: MediaTag): boolean {
    if (this.stream.ended) return false;
    this.stream.write(tag);
    return true;
  }

  /** Unpublish (idempotent): ends every subscriber after its queued tags. */
  close(reason = 'unpublished'): void {
    if (this.stream.ended) return;
    this.stream.end(reason);
    this.emit('close', reason);
  }
}

/** @internal Per-stream state; the hub owns it. */
export class LiveStream {
  ended = false;
  readonly startedAt = new Date();
  readonly publisher: Publisher;
  /** Copy-on-write: `write()` iterates a snapshot while subscribers come and go. */
  private subscribers: readonly Subscriber[] = [];
  private metadata: MediaTag | null = null;
  private videoHeader: MediaTag | null = null;
  private audioHeader: MediaTag | null = null;
  private gop: MediaTag[] = [];
  private gopBytes = 0;
  private gopActive = false;
  private video: VideoStreamInfo | null = null;
  private audio: AudioStreamInfo | null = null;
  private metaFps = 0;
  private windowStart = Date.now();
  private windowBytes = 0;
  private windowFrames = 0;
  private bitrateKbps = 0;
  private bytesIn = 0;
  /** Bytes delivered by subscribers that have gone. */
  private goneBytesOut = 0;
  private fps = 0;
  private readonly maxGopBytes: number;
  private readonly maxGopTags: number;

  constructor(
    readonly path: string,
    publisherInfo: PublisherInfo,
    private readonly logger: Logger,
    gop: GopCacheOptions,
    private readonly subscriberDefaults: SubscriberOptions,
    private readonly hooks: {
      subscribersChanged(stream: LiveStream): void;
      updated(stream: LiveStream): void;
      ended(stream: LiveStream, reason: string): void;
    },
  ) {
    this.maxGopBytes = gop.maxBytes ?? 16 * 1024 * 1024;
    this.maxGopTags = gop.maxTags ?? 8192;
    this.publisher = new Publisher(path, publisherInfo, this, logger);
  }

  get subscriberCount(): number {
    return this.subscribers.length;
  }

  write(tag: MediaTag): void {
    const now = Date.now();
    this.windowBytes += tag.data.length;
    this.bytesIn += tag.data.length;
    if (now - this.windowStart >= STATS_WINDOW_MS) this.rollStats(now);
    let out = tag;
    if (tag.type === 'script') {
      const meta = this.takeMetadata(tag);
      if (meta !== null) out = meta;
    } else if (tag.sequenceHeader) {
      if (tag.type === 'video') {
        this.videoHeader = tag;
        this.updateVideo(tag);
      } else {
        this.audioHeader = tag;
        this.updateAudio(tag);
      }
    } else if (tag.type === 'video') {
      this.windowFrames++;
      if (this.video === null) this.updateVideo(tag);
      if (tag.keyframe) {
        this.gop = [tag];
        this.gopBytes = tag.data.length;
        this.gopActive = true;
      } else if (this.gopActive) this.addToGop(tag);
    } else {
      if (this.audio === null) this.updateAudio(tag);
      if (this.gopActive) this.addToGop(tag);
    }
    const subs = this.subscribers;
    for (let i = 0; i < subs.length; i++) (subs[i] as Subscriber).push(out, now);
  }

  subscribe(info: SubscriberInfo, opts: SubscriberOptions | undefined): Subscriber {
    const sub = new Subscriber(
      this.path,
      info,
      this.logger.child({ remote: info.remote, protocol: info.protocol }),
      () => this.videoHeader !== null || this.gopActive,
      (s) => this.removeSubscriber(s),
      { ...this.subscriberDefaults, ...opts },
    );
    const initial: MediaTag[] = [];
    if (this.metadata !== null) initial.push(this.metadata);
    if (this.videoHeader !== null) initial.push(this.videoHeader);
    if (this.audioHeader !== null) initial.push(this.audioHeader);
    for (const t of this.gop) initial.push(t);
    sub.prime(initial, this.gop.length > 0);
    this.subscribers = [...this.subscribers, sub];
    this.hooks.subscribersChanged(this);
    return sub;
  }

  subscriberSnapshots(): SubscriberSnapshot[] {
    return this.subscribers.map((s) => ({ id: s.id, ...s.info, ...s.stats }));
  }

  /** Bytes in and out so far. */
  traffic(): StreamTraffic {
    let out = this.goneBytesOut;
    for (const s of this.subscribers) out += s.stats.deliveredBytes;
    return { bytesIn: this.bytesIn, bytesOut: out };
  }

  /** The cached onMetaData tag (normalized, without `@setDataFrame`), if any. */
  get metadataTag(): MediaTag | null {
    return this.metadata;
  }

  /** Close every subscriber at once (no draining), e.g. on hub shutdown. */
  closeSubscribers(reason: string): void {
    for (const sub of this.subscribers) sub.close(reason);
  }

  end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.gop = [];
    for (const sub of this.subscribers) sub.end();
    this.hooks.ended(this, reason);
  }

  info(): StreamInfo {
    const now = Date.now();
    if (now - this.windowStart >= STATS_WINDOW_MS) this.rollStats(now);
    const video = this.video === null ? null : { ...this.video, fps: this.fps || this.metaFps };
    return {
      path: this.path,
      video,
      audio: this.audio === null ? null : { ...this.audio },
      bitrateKbps: this.bitrateKbps,
      publisher: { ...this.publisher.info },
      subscribers: this.subscribers.length,
      startedAt: this.startedAt,
    };
  }

  private removeSubscriber(sub: Subscriber): void {
    if (!this.subscribers.includes(sub)) return;
    this.subscribers = this.subscribers.filter((s) => s !== sub);
    this.goneBytesOut += sub.stats.deliveredBytes;
    this.hooks.subscribersChanged(this);
  }

  private addToGop(tag: MediaTag): void {
    this.gop.push(tag);
    this.gopBytes += tag.data.length;
    if (this.gopBytes > this.maxGopBytes || this.gop.length > this.maxGopTags) {
      this.logger.debug({ bytes: this.gopBytes, tags: this.gop.length }, 'GOP exceeds cache bounds; not cached');
      this.gop = [];
      this.gopBytes = 0;
      this.gopActive = false;
    }
  }

  private rollStats(now: number): void {
    const elapsed = now - this.windowStart;
    // A window much longer than STATS_WINDOW_MS means the stream was silent.
    this.bitrateKbps = elapsed > 0 ? Math.round((this.windowBytes * 8) / elapsed) : 0;
    this.fps = elapsed > 0 ? Math.round((this.windowFrames * 10_000) / elapsed) / 10 : 0;
    this.windowStart = now;
    this.windowBytes = 0;
    this.windowFrames = 0;
  }

  /** Normalizes `@setDataFrame onMetaData {...}` to `onMetaData {...}` and caches it. */
  private takeMetadata(tag: MediaTag): MediaTag | null {
    try {
      const first = decodeAmf0Value(tag.data, 0);
      let body = tag.data;
      let nameEnd = first.end;
      let name = first.value;
      if (name === '@setDataFrame') {
        body = tag.data.subarray(first.end);
        const second = decodeAmf0Value(body, 0);
        name = second.value;
        nameEnd = second.end;
      }
      if (name !== 'onMetaData') return null;
      const props = amf0Props(decodeAmf0Value(body, nameEnd).value);
      const meta = body === tag.data ? tag : createMediaTag('script', tag.timestamp, copyBytes(body));
      this.metadata = meta;
      if (props !== undefined) this.applyMetadata(props);
      return meta;
    } catch (err) {
      this.logger.debug({ err }, 'unparseable script tag forwarded as is');
      return null;
    }
  }

  private applyMetadata(p: Amf0Object): void {
    const num = (k: string): number => {
      const v = p[k];
      return typeof v === 'number' && Number.isFinite(v) ? v : 0;
    };
    this.metaFps = num('framerate') || num('videoframerate');
    if (this.video !== null && this.video.width === 0) {
      this.video.width = num('width');
      this.video.height = num('height');
    } else if (this.video === null && (num('width') > 0 || num('videocodecid') > 0)) {
      const id = num('videocodecid');
      const codec = id === 7 ? 'h264' : id === 12 ? 'hevc' : id === 13 ? 'av1' : id > 0 ? `unknown(${id})` : 'unknown';
      this.video = { codec, width: num('width'), height: num('height'), fps: 0 };
    }
    this.hooks.updated(this);
  }

  private updateVideo(tag: MediaTag): void {
    try {
      const v = tag.sequenceHeader
        ? parseVideoSequenceHeader(tag.data)
        : { codec: videoCodecName(tag.data), width: 0, height: 0 };
      const width = v.width || this.video?.width || 0;
      const height = v.height || this.video?.height || 0;
      this.video = { ...v, width, height, fps: 0 };
      this.hooks.updated(this);
    } catch (err) {
      this.logger.debug({ err }, 'cannot parse video sequence header');
    }
  }

  private updateAudio(tag: MediaTag): void {
    try {
      this.audio = parseAudioTag(tag.data);
      this.hooks.updated(this);
    } catch (err) {
      this.logger.debug({ err }, 'cannot parse audio header');
    }
  }
}
