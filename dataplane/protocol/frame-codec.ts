import { CloseCode } from './close-codes.js';
import { ProtocolError } from './protocol-error.js';

/** Bytes before each frame's payload: u8 type + u32 big-endian payload length. */
export const FRAME_HEADER_BYTES = 5;

/** Maximum payload of a control frame (64 KiB). */
export const CONTROL_MAX_FRAME_BYTES = 64 * 1024;

/** Hard upper bound for any stream kind's frame limit (16 MiB). */
const ABSOLUTE_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** One decoded frame: its type byte and its payload (a private copy unless the decoder shares chunks). */
export interface Frame {
  type: number;
  payload: Uint8Array;
}

/** Encode one frame (header + payload) into a new buffer. */
export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > 0xff) throw new RangeError(`frame type out of range: ${type}`);
  if (payload.byteLength > ABSOLUTE_MAX_FRAME_BYTES) throw new RangeError(`frame payload too large: ${payload.byteLength}`);
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.byteLength);
  out[0] = type;
  new DataView(out.buffer).setUint32(1, payload.byteLength, false);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/** Options of a {@link FrameDecoder}. */
/** The type guard of a table of frame type bytes: true for the bytes it lists. */
export function frameTypeGuard<T extends Record<string, number>>(table: T): (type: number) => type is T[keyof T] {
  const types: ReadonlySet<number> = new Set(Object.values(table));
  return (type: number): type is T[keyof T] => types.has(type);
}

export interface FrameDecoderOptions {
  /** Largest payload accepted; a header announcing more is rejected at once. */
  maxFrameBytes: number;
  /** Frame types valid on this stream kind; others are rejected as soon as seen. */
  isKnownType: (type: number) => boolean;
  /**
   * The chunks given to push() are the caller's to give away (never reused nor changed):
   * a frame that lies whole inside one chunk gets a view of it instead of a copy. Default
   * false (every payload is a private copy).
   */
  shareChunks?: boolean;
}

/**
 * Streaming frame decoder: feed it the bytes of a stream in chunks of any size, get
 * complete frames back. Pure, no I/O. Violations throw {@link ProtocolError} with the
 * close code to use (FrameTooLarge, UnknownFrameType, MalformedFrame); after one, the
 * decoder stays failed and throws the same error on every later call.
 */
export class FrameDecoder {
  private readonly maxFrameBytes: number;
  private readonly isKnownType: (type: number) => boolean;
  private readonly shareChunks: boolean;
  private buf = new Uint8Array(256);
  private start = 0;
  private end = 0;
  private failed: ProtocolError | null = null;

  constructor(options: FrameDecoderOptions) {
    if (!(options.maxFrameBytes >= 0 && options.maxFrameBytes <= ABSOLUTE_MAX_FRAME_BYTES)) {
      throw new RangeError(`maxFrameBytes out of range: ${options.maxFrameBytes}`);
    }
    this.maxFrameBytes = options.maxFrameBytes;
    this.isKnownType = options.isKnownType;
    this.shareChunks = options.shareChunks ?? false;
  }

  /** Bytes received but not yet returned as frames. */
  get bufferedBytes(): number {
    return this.end - this.start;
  }

  /** Append bytes; returns every frame completed by them (possibly none). */
  push(chunk: Uint8Array): Frame[] {
    if (this.failed) throw this.failed;
    const frames: Frame[] = [];
    try {
      if (!this.shareChunks) {
        this.append(chunk);
        this.start = this.scan(this.buf, this.start, this.end, frames, false);
      } else {
        let rest = chunk;
        // A frame begun in an earlier chunk: complete it in the buffer (copied), a header first.
        while (this.end > this.start && rest.byteLength > 0) {
          const take = Math.min(this.pendingNeed(), rest.byteLength);
          this.append(rest.subarray(0, take));
          rest = rest.subarray(take);
          this.start = this.scan(this.buf, this.start, this.end, frames, false);
        }
        if (this.end === this.start && rest.byteLength > 0) {
          // Whole frames are views of the chunk; only a trailing partial frame is copied.
          const used = this.scan(rest, 0, rest.byteLength, frames, true);
          this.start = this.end = 0;
          this.append(rest.subarray(used));
        }
      }
    } catch (err) {
      this.fail(err);
    }
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
    }
    return frames;
  }

  /** Bytes still missing from the buffered partial frame: the rest of its header, else the rest of the frame. */
  private pendingNeed(): number {
    const avail = this.end - this.start;
    if (avail < FRAME_HEADER_BYTES) return FRAME_HEADER_BYTES - avail;
    const len = new DataView(this.buf.buffer, this.buf.byteOffset + this.start + 1, 4).getUint32(0, false);
    return FRAME_HEADER_BYTES + len - avail;
  }

  /**
   * Frames in `buf[start, end)`, checked as soon as their type byte and header are there;
   * returns where the first incomplete frame starts. Payloads are views with `share`.
   */
  private scan(buf: Uint8Array, start: number, end: number, frames: Frame[], share: boolean): number {
    for (;;) {
      const avail = end - start;
      if (avail < 1) return start;
      const type = buf[start] as number;
      if (!this.isKnownType(type)) {
        throw new ProtocolError(
          CloseCode.UnknownFrameType,
          `protocol error: unknown frame type 0x${type.toString(16).padStart(2, '0')}`,
        );
      }
      if (avail < FRAME_HEADER_BYTES) return start;
      const len = new DataView(buf.buffer, buf.byteOffset + start + 1, 4).getUint32(0, false);
      if (len > this.maxFrameBytes) {
        throw new ProtocolError(
          CloseCode.FrameTooLarge,
          `protocol error: frame too large (${len} bytes, limit ${this.maxFrameBytes})`,
        );
      }
      if (avail < FRAME_HEADER_BYTES + len) return start;
      const p = start + FRAME_HEADER_BYTES;
      frames.push({ type, payload: share ? buf.subarray(p, p + len) : buf.slice(p, p + len) });
      start = p + len;
    }
  }

  /** The stream ended (FIN): throws MalformedFrame if a frame was cut off. */
  finish(): void {
    if (this.failed) throw this.failed;
    if (this.end !== this.start) {
      this.fail(
        new ProtocolError(
          CloseCode.MalformedFrame,
          `protocol error: malformed frame (stream ended inside a frame, ${this.end - this.start} bytes pending)`,
        ),
      );
    }
  }

  private fail(err: unknown): never {
    this.failed =
      err instanceof ProtocolError ? err : new ProtocolError(CloseCode.MalformedFrame, 'protocol error: malformed frame');
    this.buf = new Uint8Array(0);
    this.start = 0;
    this.end = 0;
    throw this.failed;
  }

  private append(chunk: Uint8Array): void {
    const n = chunk.byteLength;
    if (n === 0) return;
    if (this.end + n > this.buf.byteLength) {
      const live = this.end - this.start;
      if (live + n <= this.buf.byteLength) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        let size = Math.max(256, this.buf.byteLength);
        while (size < live + n) size *= 2;
        const next = new Uint8Array(size);
        next.set(this.buf.subarray(this.start, this.end), 0);
        this.buf = next;
      }
      this.start = 0;
      this.end = live;
    }
    this.buf.set(chunk, this.end);
    this.end += n;
  }
}
