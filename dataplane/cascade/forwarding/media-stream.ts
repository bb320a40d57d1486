/**
 * Frame I/O on one media stream (MediaPush / MediaPull, PROTOCOL.md §10), and the
 * two pumps every forwarding uses: hub subscriber → stream (with the stream's
 * backpressure; the subscriber's bounded queue absorbs and skips, the publisher is
 * never slowed) and stream → hub publisher.
 */
import type { LinkStream } from '../../transport/link.js';
import { FrameReader } from '../frame-reader.js';
import {
  CloseCode,
  createMediaFrameDecoder,
  decodeMediaFrame,
  encodeMediaFrame,
  writeTagFrameHeader,
  ProtocolError,
  FRAME_HEADER_BYTES,
  MEDIA_MAX_JSON_BYTES,
  TAG_FRAME_OVERHEAD,
  type MediaFrame,
} from '../../protocol/index.js';
import { createMediaTag, flvTypeId, mediaTagType, type MediaTag } from '../../media/media-tag.js';
import type { Publisher } from '../../media/live-stream.js';
import type { Subscriber } from '../../media/stream-subscriber.js';

/** Most bytes of tags batched into one write. */
const WRITE_BATCH_BYTES = 256 * 1024;
/** Most tags batched into one write. */
const WRITE_BATCH_TAGS = 256;

/** Reads and writes media frames on one LinkStream. */
export class MediaStreamIo {
  /** LinkStream chunks are the reader's own: TAG bodies are views of them, not copies. */
  private readonly reader: FrameReader<MediaFrame>;
  /** Tags of the batch being written (reused). */
  private readonly batch: MediaTag[] = [];
  /** Until the first frame (OPEN, or ACCEPT/REFUSE) arrives, at most one JSON frame is buffered. */
  private firstFrameSeen = false;
  /** Bytes of tag bodies sent / received. */
  bytesOut = 0;
  bytesIn = 0;

  constructor(readonly stream: LinkStream) {
    const decoder = createMediaFrameDecoder({ shareChunks: true });
    this.reader = new FrameReader(stream, decoder, decodeMediaFrame, (frames) => {
      if (frames > 0) this.firstFrameSeen = true;
      if (!this.firstFrameSeen && decoder.bufferedBytes > FRAME_HEADER_BYTES + MEDIA_MAX_JSON_BYTES) {
        // The first frame of a media stream is JSON: do not buffer megabytes of a peer's stream before it.
        throw new ProtocolError(CloseCode.FrameTooLarge, 'protocol error: frame too large (first frame of a media stream)');
      }
    });
  }

  /** The next frame, or null after FIN. Throws ProtocolError for a bad frame, link errors as they come. */
  next(): Promise<MediaFrame | null> {
    return this.reader.next();
  }

  /** Resolves when the peer ends or resets its side (of a stream we only write to). */
  async peerEnded(): Promise<void> {
    try {
      for (;;) {
        const f = await this.next();
        if (f === null || f.type === 'end') return;
      }
    } catch {
      // reset or link closed
    }
  }

  /** {@link next} bounded in time: rejects with a ProtocolError (UnexpectedFrame) when nothing arrives. */
  async nextWithin(ms: number, what: string): Promise<MediaFrame | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_r, reject) => {
      timer = setTimeout(() => reject(new ProtocolError(CloseCode.ProtocolError, `no ${what} within ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([this.next(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Write one frame (awaiting it is the backpressure). */
  async send(frame: MediaFrame): Promise<void> {
    await this.stream.write(encodeMediaFrame(frame));
  }

  /** END + FIN, best effort. */
  async finish(reason: string): Promise<void> {
    try {
      await this.send({ type: 'end', reason: reason.slice(0, 512) });
      await this.stream.end();
    } catch {
      // the stream is gone already
    }
  }

  /** Abort the stream (idempotent). */
  reset(code: number = CloseCode.Normal): void {
    this.stream.reset(code);
  }

  /**
   * Send the subscriber's tags until it ends (END with its reason, then FIN) or the
   * stream fails (the subscriber is closed). Resolves with why it stopped.
   *
   * Every tag queued when the pump runs goes out in one write: the tags' frame headers
   * and bodies laid out in one buffer (each body copied once); the write resolves when
   * quiche has taken the bytes, and the tags queued meanwhile make the next batch.
   */
  async pumpFrom(sub: Subscriber): Promise<string> {
    let closeReason = 'unpublished';
    sub.once('close', (r) => (closeReason = r));
    const batch = this.batch;
    try {
      for (;;) {
        let tag: MediaTag | null | undefined = sub.poll();
        if (tag === undefined) tag = await sub.next();
        if (tag === null) break;
        batch.length = 0;
        batch.push(tag);
        let size = TAG_FRAME_OVERHEAD + tag.data.byteLength;
        let more: MediaTag | null | undefined;
        while (size < WRITE_BATCH_BYTES && batch.length < WRITE_BATCH_TAGS && (more = sub.poll()) !== undefined && more !== null) {
          batch.push(more);
          size += TAG_FRAME_OVERHEAD + more.data.byteLength;
        }
        const bytes = this.layOut(batch, size);
        batch.length = 0;
        await this.stream.write(bytes);
        if (more === null) break;
      }
    } catch (err) {
      batch.length = 0;
      sub.close('cascade stream failed');
      return `stream failed: ${(err as Error).message}`;
    }
    await this.finish(closeReason);
    return closeReason;
  }

  /**
   * Write received tags into the publisher until END (resolves with its reason) or
   * FIN. Throws ProtocolError for a bad or unexpected frame, link errors as they come.
   */
  async pumpInto(publisher: Pick<Publisher, 'write'>): Promise<string> {
    for (;;) {
      // Every frame decoded from the last chunk, without a wait between them.
      for (let f = this.reader.take(); f !== undefined; f = this.reader.take()) {
        if (f.type === 'end') return f.reason || 'ended';
        if (f.type !== 'tag') throw new ProtocolError(CloseCode.UnexpectedFrame, `protocol error: unexpected frame ${f.type.toUpperCase()}`);
        const type = mediaTagType(f.tagType);
        if (type === null) continue;
        this.bytesIn += f.body.byteLength;
        if (!publisher.write(createMediaTag(type, f.timestamp, f.body))) return 'publisher closed';
      }
      if (this.reader.ended) return 'stream ended';
      await this.reader.fill();
    }
  }

  /** TAG frames of `tags` in one buffer of `size` bytes. */
  private layOut(tags: readonly MediaTag[], size: number): Uint8Array {
    const out = new Uint8Array(size);
    let o = 0;
    for (const tag of tags) {
      const body = tag.data;
      writeTagFrameHeader(out, o, flvTypeId(tag.type), tag.timestamp, body.byteLength);
      out.set(body, o + TAG_FRAME_OVERHEAD);
      o += TAG_FRAME_OVERHEAD + body.byteLength;
      this.bytesOut += body.byteLength;
    }
    return out;
  }
}

/** A short description of an error for logs and reasons. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
