/**
 * RTMP chunk stream encoder: {@link RtmpMessage} in, chunk bytes out. Pure.
 *
 * Picks the smallest header per message (fmt 0 for a new chunk stream, a new
 * message stream id or a timestamp going backwards; fmt 1 when length or type
 * change; fmt 2 when only the delta changes; fmt 3 when everything repeats),
 * splits the payload into chunks of `chunkSize` with fmt-3 continuation
 * headers, and writes extended timestamps (repeated on continuations, as
 * ffmpeg and Flash expect). Delta semantics match {@link RtmpChunkDecoder}.
 */
import { RtmpChunkError } from './errors.js';
import type { RtmpMessage } from './rtmp-message.js';

interface OutState {
  timestamp: number;
  tsField: number;
  length: number;
  type: number;
  streamId: number;
}

/** Stateful encoder (one per connection direction). */
export class RtmpChunkEncoder {
  private size = 128;
  private readonly streams = new Map<number, OutState>();

  /** Current outgoing chunk size. Send a Set Chunk Size message before changing it. */
  get chunkSize(): number {
    return this.size;
  }
  set chunkSize(size: number) {
    if (!Number.isInteger(size) || size < 1 || size > 0x7fffffff) {
      throw new RtmpChunkError(`chunk size ${size} out of range`, 'RTMP_CHUNK_SIZE_INVALID');
    }
    this.size = size;
  }

  /** Encode one message into a single buffer of chunks. */
  encode(msg: RtmpMessage): Uint8Array {
    checkMessage(msg);
    const timestamp = msg.timestamp >>> 0;
    const { csid, type, streamId, payload } = msg;
    const prev = this.streams.get(csid);
    let fmt: number;
    let field: number;
    if (prev === undefined || prev.streamId !== streamId || timestamp < prev.timestamp) {
      fmt = 0;
      field = timestamp;
    } else {
      const delta = timestamp - prev.timestamp;
      if (prev.length !== payload.length || prev.type !== type) fmt = 1;
      else if (prev.tsField !== delta) fmt = 2;
      else fmt = 3;
      field = delta;
    }
    const out = writeChunks(msg, fmt, field, this.size);
    if (prev === undefined) {
      this.streams.set(csid, { timestamp, tsField: field, length: payload.length, type, streamId });
    } else {
      prev.timestamp = timestamp;
      prev.tsField = field;
      prev.length = payload.length;
      prev.type = type;
      prev.streamId = streamId;
    }
    return out;
  }

  /**
   * Forget what was last sent on `csid`, so its next message gets a type-0
   * header. Call after messages on `csid` were sent without this encoder
   * (see {@link encodeRtmpMessageFmt0}).
   */
  forget(csid: number): void {
    this.streams.delete(csid);
  }
}

/**
 * One message as chunks with a type-0 first header: self-contained, so the
 * same bytes can go to any connection with this chunk size whatever it sent
 * before on the chunk stream (its encoder must then {@link RtmpChunkEncoder.forget} it).
 */
export function encodeRtmpMessageFmt0(msg: RtmpMessage, chunkSize: number): Uint8Array {
  checkMessage(msg);
  return writeChunks(msg, 0, msg.timestamp >>> 0, chunkSize);
}

function checkMessage({ csid, payload }: RtmpMessage): void {
  if (!Number.isInteger(csid) || csid < 2 || csid > 65599) {
    throw new RtmpChunkError(`chunk stream id ${csid} out of range`, 'RTMP_CSID_INVALID');
  }
  if (payload.length > 0xffffff) throw new RtmpChunkError('message longer than 16 MiB', 'RTMP_MESSAGE_TOO_LARGE');
}

/** Header of format `fmt` with timestamp field `field`, then the payload split into chunks. */
function writeChunks({ csid, type, streamId, payload }: RtmpMessage, fmt: number, field: number, size: number): Uint8Array {
  const extended = field >= 0xffffff;
  const basicLen = csid < 64 ? 1 : csid < 320 ? 2 : 3;
  const mhLen = fmt === 0 ? 11 : fmt === 1 ? 7 : fmt === 2 ? 3 : 0;
  const chunks = Math.max(1, Math.ceil(payload.length / size));
  const contLen = basicLen + (extended ? 4 : 0);
  const total = basicLen + mhLen + (extended ? 4 : 0) + payload.length + (chunks - 1) * contLen;
  const out = new Uint8Array(total);
  let o = writeBasic(out, 0, fmt, csid);
  const f = extended ? 0xffffff : field;
  if (fmt <= 2) {
    out[o++] = (f >>> 16) & 0xff;
    out[o++] = (f >>> 8) & 0xff;
    out[o++] = f & 0xff;
  }
  if (fmt <= 1) {
    out[o++] = (payload.length >>> 16) & 0xff;
    out[o++] = (payload.length >>> 8) & 0xff;
    out[o++] = payload.length & 0xff;
    out[o++] = type;
  }
  if (fmt === 0) {
    out[o++] = streamId & 0xff;
    out[o++] = (streamId >>> 8) & 0xff;
    out[o++] = (streamId >>> 16) & 0xff;
    out[o++] = (streamId >>> 24) & 0xff;
  }
  if (extended) o = writeU32(out, o, field);
  let p = 0;
  for (let i = 0; i < chunks; i++) {
    if (i > 0) {
      o = writeBasic(out, o, 3, csid);
      if (extended) o = writeU32(out, o, field);
    }
    const n = Math.min(size, payload.length - p);
    out.set(payload.subarray(p, p + n), o);
    o += n;
    p += n;
  }
  return out;
}

function writeBasic(out: Uint8Array, o: number, fmt: number, csid: number): number {
  if (csid < 64) {
    out[o] = (fmt << 6) | csid;
    return o + 1;
  }
  if (csid < 320) {
    out[o] = fmt << 6;
    out[o + 1] = csid - 64;
    return o + 2;
  }
  out[o] = (fmt << 6) | 1;
  out[o + 1] = (csid - 64) & 0xff;
  out[o + 2] = (csid - 64) >>> 8;
  return o + 3;
}

function writeU32(out: Uint8Array, o: number, v: number): number {
  out[o] = (v >>> 24) & 0xff;
  out[o + 1] = (v >>> 16) & 0xff;
  out[o + 2] = (v >>> 8) & 0xff;
  out[o + 3] = v & 0xff;
  return o + 4;
}
