/**
 * FLV container: header and tag muxing, and a streaming demuxer that checks
 * PreviousTagSize. Pure: no I/O.
 *
 * Layout: header (9 bytes: "FLV", version 1, flags audio=4|video=1, header
 * size 9), PreviousTagSize0 (u32 = 0), then per tag: type (u8: 8 audio,
 * 9 video, 18 script), data size (u24), timestamp (u24 low bits + u8 high
 * bits), stream id (u24 = 0), data, PreviousTagSize (u32 = 11 + data size).
 */
import { FlvError } from './errors.js';
import { copyBytes } from './bytes.js';

/** FLV tag type ids. */
export const FlvTagType = { Audio: 8, Video: 9, Script: 18 } as const;

/** Length of an FLV tag header. */
export const FLV_TAG_HEADER_SIZE = 11;

/** One demuxed tag. */
export interface FlvTag {
  /** 8 audio, 9 video, 18 script. */
  type: number;
  /** Milliseconds, uint32. */
  timestamp: number;
  /** Tag body. */
  data: Uint8Array;
}

/** FLV file header followed by PreviousTagSize0 (13 bytes). */
export function encodeFlvHeader(hasAudio: boolean, hasVideo: boolean): Uint8Array {
  return Uint8Array.from([0x46, 0x4c, 0x56, 1, (hasAudio ? 4 : 0) | (hasVideo ? 1 : 0), 0, 0, 0, 9, 0, 0, 0, 0]);
}

/** Tag header + body + PreviousTagSize in one buffer (one allocation, one copy). */
export function encodeFlvTag(type: number, timestamp: number, data: Uint8Array): Uint8Array {
  if (data.length > 0xffffff) throw new FlvError('FLV tag body longer than 16 MiB', 'FLV_TAG_TOO_LARGE');
  const size = data.length;
  const out = new Uint8Array(FLV_TAG_HEADER_SIZE + size + 4);
  const ts = timestamp >>> 0;
  out[0] = type;
  out[1] = (size >>> 16) & 0xff;
  out[2] = (size >>> 8) & 0xff;
  out[3] = size & 0xff;
  out[4] = (ts >>> 16) & 0xff;
  out[5] = (ts >>> 8) & 0xff;
  out[6] = ts & 0xff;
  out[7] = (ts >>> 24) & 0xff;
  // stream id bytes 8..10 stay 0
  out.set(data, FLV_TAG_HEADER_SIZE);
  const prev = FLV_TAG_HEADER_SIZE + size;
  const o = FLV_TAG_HEADER_SIZE + size;
  out[o] = (prev >>> 24) & 0xff;
  out[o + 1] = (prev >>> 16) & 0xff;
  out[o + 2] = (prev >>> 8) & 0xff;
  out[o + 3] = prev & 0xff;
  return out;
}

/** Flags from a parsed FLV header. */
export interface FlvHeaderInfo {
  hasAudio: boolean;
  hasVideo: boolean;
}

/**
 * Streaming FLV demuxer. Feed any split of the bytes; tags come out in order.
 * Throws {@link FlvError} on a bad signature/version, an unknown or encrypted
 * tag type, or a PreviousTagSize that does not match the tag before it; after
 * an error it refuses further input.
 */
export class FlvDemuxer {
  /** Set once the header has been parsed. */
  header: FlvHeaderInfo | null = null;
  private buf: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private skip = 0; // bytes of header padding still to skip
  private expectPrev: number | null = null; // PreviousTagSize expected next
  private failed = false;

  /** Feed bytes; `onTag` is called synchronously for each complete tag. */
  push(data: Uint8Array, onTag: (tag: FlvTag) => void): void {
    if (this.failed) throw new FlvError('demuxer failed earlier', 'FLV_FAILED');
    const rest = this.buf.length - this.pos;
    if (rest > 0) {
      const merged = new Uint8Array(rest + data.length);
      merged.set(this.buf.subarray(this.pos));
      merged.set(data, rest);
      this.buf = merged;
    } else {
      this.buf = data;
    }
    this.pos = 0;
    try {
      this.run(onTag);
    } catch (err) {
      this.failed = true;
      throw err;
    }
    if (this.pos >= this.buf.length) {
      this.buf = new Uint8Array(0);
      this.pos = 0;
    }
  }

  private run(onTag: (tag: FlvTag) => void): void {
    const b = this.buf;
    if (this.header === null) {
      if (b.length - this.pos < 9) return;
      if (b[0] !== 0x46 || b[1] !== 0x4c || b[2] !== 0x56) throw new FlvError('not an FLV stream', 'FLV_BAD_SIGNATURE');
      if (b[3] !== 1) throw new FlvError(`unsupported FLV version ${b[3]}`, 'FLV_BAD_VERSION');
      const flags = b[4] as number;
      const headerSize = readU32(b, 5);
      if (headerSize < 9) throw new FlvError(`FLV header size ${headerSize} < 9`, 'FLV_BAD_HEADER');
      if (headerSize > 1024) throw new FlvError(`FLV header size ${headerSize} too large`, 'FLV_BAD_HEADER');
      this.header = { hasAudio: (flags & 4) !== 0, hasVideo: (flags & 1) !== 0 };
      this.pos = 9;
      this.skip = headerSize - 9;
      this.expectPrev = 0;
    }
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, b.length - this.pos);
        this.pos += n;
        this.skip -= n;
        if (this.skip > 0) return;
      }
      if (this.expectPrev !== null) {
        if (b.length - this.pos < 4) return;
        const prev = readU32(b, this.pos);
        if (prev !== this.expectPrev) {
          throw new FlvError(`PreviousTagSize ${prev}, expected ${this.expectPrev}`, 'FLV_BAD_PREVIOUS_TAG_SIZE');
        }
        this.pos += 4;
        this.expectPrev = null;
      }
      if (b.length - this.pos < FLV_TAG_HEADER_SIZE) return;
      const p = this.pos;
      const typeByte = b[p] as number;
      if ((typeByte & 0x20) !== 0) throw new FlvError('encrypted FLV tags are not supported', 'FLV_ENCRYPTED');
      const type = typeByte & 0x1f;
      if (type !== FlvTagType.Audio && type !== FlvTagType.Video && type !== FlvTagType.Script) {
        throw new FlvError(`unknown FLV tag type ${type}`, 'FLV_BAD_TAG_TYPE');
      }
      const size = ((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number);
      if (b.length - p < FLV_TAG_HEADER_SIZE + size) return;
      const timestamp =
        (((b[p + 7] as number) << 24) | ((b[p + 4] as number) << 16) | ((b[p + 5] as number) << 8) | (b[p + 6] as number)) >>>
        0;
      const data = copyBytes(b, p + FLV_TAG_HEADER_SIZE, p + FLV_TAG_HEADER_SIZE + size);
      this.pos = p + FLV_TAG_HEADER_SIZE + size;
      this.expectPrev = FLV_TAG_HEADER_SIZE + size;
      onTag({ type, timestamp, data });
    }
  }
}

function readU32(b: Uint8Array, o: number): number {
  return (((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number)) >>> 0;
}
