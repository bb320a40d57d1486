/**
 * Frame I/O on one media stream (MediaPush / MediaPull, PROTOCOL.md §10), and the
 * two pumps every forwarding uses: hub subscriber → stream (with the stream's
 * backpressure; the subscriber's bounded queue absorbs and skips, the publisher is
 * never slowed) and stream → hub publisher.
 */
import type { LinkStream } from '../transport/link.js';
import {
  CloseCode,
  createMediaFrameDecoder,
  decodeMediaFrame,
  encodeMediaFrame,
  encodeTagFrame,
  ProtocolError,
  FRAME_HEADER_BYTES,
  MEDIA_MAX_JSON_BYTES,
  type FrameDecoder,
  type MediaFrame,
} from '../protocol/index.js';
import { createMediaTag, flvTypeId, mediaTagType, type MediaTag } from '../media/media-tag.js';
import type { Publisher } from '../media/live-stream.js';
import type { Subscriber } from '../media/stream-subscriber.js';

/** Most bytes of tags batched into one write. */
const WRITE_BATCH_BYTES = 256 * 1024;

/** Reads and writes media frames on one LinkStream. */
export class MediaStreamIo {
  private readonly decoder: FrameDecoder = createMediaFrameDecoder();
  private readonly frames: MediaFrame[] = [];
  private finished = false;
  /** Until the first frame (OPEN, or ACCEPT/REFUSE) arrives, at most one JSON frame is buffered. */
  private firstFrameSeen = false;
  /** Bytes of tag bodies sent / received. */
  bytesOut = 0;
  bytesIn = 0;

  constructor(readonly stream: LinkStream) {}

  /** The next frame, or null after FIN. Throws ProtocolError for a bad frame, link errors as they come. */
  async next(): Promise<MediaFrame | null> {
    for (;;) {
      const f = this.frames.shift();
      if (f) return f;
      if (this.finished) return null;
      const chunk = await this.stream.read();
      if (chunk === null) {
        this.decoder.finish();
        this.finished = true;
        continue;
      }
      for (const frame of this.decoder.push(chunk)) {
        this.firstFrameSeen = true;
        this.frames.push(decodeMediaFrame(frame));
      }
      if (!this.firstFrameSeen && this.decoder.bufferedBytes > FRAME_HEADER_BYTES + MEDIA_MAX_JSON_BYTES) {
        // The first frame of a media stream is JSON: do not buffer megabytes of a peer's stream before it.
        throw new ProtocolError(CloseCode.FrameTooLarge, 'protocol error: frame too large (first frame of a media stream)');
      }
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
   */
  async pumpFrom(sub: Subscriber): Promise<string> {
    let closeReason = 'unpublished';
    sub.once('close', (r) => (closeReason = r));
    try {
      for (;;) {
        let tag: MediaTag | null | undefined = sub.poll();
        if (tag === undefined) tag = await sub.next();
        if (tag === null) break;
        const parts: Uint8Array[] = [this.encodeTag(tag)];
        let size = parts[0]!.byteLength;
        let more: MediaTag | null | undefined;
        while (size < WRITE_BATCH_BYTES && (more = sub.poll()) !== undefined && more !== null) {
          const b = this.encodeTag(more);
          parts.push(b);
          size += b.byteLength;
        }
        await this.stream.write(parts.length === 1 ? parts[0]! : concat(parts, size));
        if (more === null) break;
      }
    } catch (err) {
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
  async pumpInto(publisher: Publisher): Promise<string> {
    for (;;) {
      const f = await this.next();
      if (f === null) return 'stream ended';
      if (f.type === 'end') return f.reason || 'ended';
      if (f.type !== 'tag') throw new ProtocolError(CloseCode.UnexpectedFrame, `protocol error: unexpected frame ${f.type.toUpperCase()}`);
      const type = mediaTagType(f.tagType);
      if (type === null) continue;
      this.bytesIn += f.body.byteLength;
      if (!publisher.write(createMediaTag(type, f.timestamp, f.body))) return 'publisher closed';
    }
  }

  private encodeTag(tag: MediaTag): Uint8Array {
    this.bytesOut += tag.data.byteLength;
    return encodeTagFrame(flvTypeId(tag.type), tag.timestamp, tag.data);
  }
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

/** A short description of an error for logs and reasons. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
