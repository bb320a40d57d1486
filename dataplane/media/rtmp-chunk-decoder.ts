/**
 * RTMP chunk stream decoder: bytes in, complete {@link RtmpMessage}s out.
 * Pure (no I/O), incremental (any split of the input gives the same messages).
 *
 * Handles chunk header formats 0-3, 1-3 byte basic headers, extended
 * timestamps (also on type-3 continuation chunks, which some senders include
 * and others omit: a continuation's 4 bytes are consumed only when they repeat
 * the extended timestamp), Set Chunk Size and Abort (applied here, and still
 * passed on). Bounded: message size, number of chunk streams, and the bytes of
 * partial messages held at once (per decoder, and through an optional shared
 * allowance across decoders). Any violation throws {@link RtmpChunkError};
 * after an error the decoder refuses further input.
 *
 * Memory follows the bytes received, never the length a header declares: a
 * message's body grows by doubling (from {@link MIN_BODY_ALLOC} up to its
 * length) as its chunks arrive, and what is held is counted as allocated.
 * Bodies are copied out of the input, so a held message never pins a larger
 * socket read buffer.
 */
import { RtmpChunkError } from './errors.js';
import { RtmpMessageType, type RtmpMessage } from './rtmp-message.js';
import { copyBytes } from './bytes.js';
import type { PendingAllowance } from './rtmp-pending-budget.js';

/** First allocation of a message body that does not fit in one piece, bytes. */
const MIN_BODY_ALLOC = 16 * 1024;

/** Limits of a {@link RtmpChunkDecoder}. */
export interface RtmpChunkDecoderOptions {
  /** Largest message accepted, bytes. Default 16 MiB. */
  maxMessageSize?: number;
  /** Most chunk streams (csids) a peer may use. Default 64. */
  maxChunkStreams?: number;
  /** Largest chunk size a peer may set. Default 16 MiB. */
  maxChunkSize?: number;
  /** Most bytes of incomplete messages held across all chunk streams. Default 32 MiB. */
  maxPendingBytes?: number;
  /** A share of a budget across decoders (the node-wide bound); every held byte is drawn from it too. */
  allowance?: PendingAllowance;
}

interface ChunkStream {
  timestamp: number;
  tsField: number;
  extended: boolean;
  extValue: number;
  length: number;
  type: number;
  streamId: number;
  /** Body received so far (its first `received` bytes), or null before the first byte. */
  body: Uint8Array | null;
  received: number;
  inMessage: boolean;
}

const MSG_HEADER_LEN = [11, 7, 3, 0] as const;

/** Incremental RTMP chunk decoder (one per connection direction). */
export class RtmpChunkDecoder {
  /** Current incoming chunk size (128 until the peer sets it). */
  chunkSize = 128;
  private readonly maxMessageSize: number;
  private readonly maxChunkStreams: number;
  private readonly maxChunkSize: number;
  private readonly maxPendingBytes: number;
  private readonly allowance: PendingAllowance | null;
  private readonly streams = new Map<number, ChunkStream>();
  private leftover: Uint8Array | null = null;
  private cur: ChunkStream | null = null;
  private curCsid = 0;
  private bodyLeft = 0;
  private pendingBytes = 0;
  private failed = false;

  constructor({
    maxMessageSize = 16 * 1024 * 1024, // 16 MiB
    maxChunkStreams = 64,
    maxChunkSize = 16 * 1024 * 1024, // 16 MiB
    maxPendingBytes = 32 * 1024 * 1024, // 32 MiB
    allowance,
  }: RtmpChunkDecoderOptions = {}) {
    this.allowance = allowance ?? null;
    this.maxMessageSize = maxMessageSize;
    this.maxChunkStreams = maxChunkStreams;
    this.maxChunkSize = maxChunkSize;
    this.maxPendingBytes = maxPendingBytes;
  }

  /** Feed bytes; `onMessage` is called synchronously for each complete message. */
  push(data: Uint8Array, onMessage: (msg: RtmpMessage) => void): void {
    if (this.failed) throw new RtmpChunkError('decoder failed earlier', 'RTMP_CHUNK_FAILED');
    let buf = data;
    if (this.leftover !== null) {
      buf = new Uint8Array(this.leftover.length + data.length);
      buf.set(this.leftover);
      buf.set(data, this.leftover.length);
      this.leftover = null;
    }
    let p = 0;
    try {
      for (;;) {
        if (this.bodyLeft > 0) {
          const n = Math.min(this.bodyLeft, buf.length - p);
          if (n === 0) break;
          const cs = this.cur as ChunkStream;
          this.append(cs, buf, p, n);
          p += n;
          this.bodyLeft -= n;
          if (this.bodyLeft === 0 && cs.received === cs.length) this.complete(this.curCsid, cs, onMessage);
          continue;
        }
        const next = this.parseHeader(buf, p, onMessage);
        if (next < 0) break;
        p = next;
      }
    } catch (err) {
      this.failed = true;
      throw err;
    }
    if (p < buf.length) this.leftover = copyBytes(buf, p);
  }

  /** Returns the offset after the header, or -1 when more bytes are needed. */
  private parseHeader(buf: Uint8Array, p: number, onMessage: (msg: RtmpMessage) => void): number {
    const avail = buf.length - p;
    if (avail < 1) return -1;
    const b0 = buf[p] as number;
    const fmt = b0 >> 6;
    let csid = b0 & 0x3f;
    let q = p + 1;
    if (csid === 0) {
      if (avail < 2) return -1;
      csid = 64 + (buf[p + 1] as number);
      q = p + 2;
    } else if (csid === 1) {
      if (avail < 3) return -1;
      csid = 64 + (buf[p + 1] as number) + (buf[p + 2] as number) * 256;
      q = p + 3;
    }
    const mh = MSG_HEADER_LEN[fmt] as number;
    if (buf.length - q < mh) return -1;
    let cs = this.streams.get(csid);
    if (cs === undefined) {
      if (fmt >= 2) throw new RtmpChunkError(`chunk stream ${csid} starts without a message header`);
      if (this.streams.size >= this.maxChunkStreams) {
        throw new RtmpChunkError(`more than ${this.maxChunkStreams} chunk streams`, 'RTMP_TOO_MANY_CHUNK_STREAMS');
      }
    }
    if (cs !== undefined && cs.inMessage && fmt !== 3) {
      throw new RtmpChunkError(`new message header on chunk stream ${csid} before the previous message ended`);
    }
    let field = 0;
    let length = cs?.length ?? 0;
    let type = cs?.type ?? 0;
    let streamId = cs?.streamId ?? 0;
    if (fmt <= 2) field = ((buf[q] as number) << 16) | ((buf[q + 1] as number) << 8) | (buf[q + 2] as number);
    if (fmt <= 1) {
      length = ((buf[q + 3] as number) << 16) | ((buf[q + 4] as number) << 8) | (buf[q + 5] as number);
      type = buf[q + 6] as number;
    }
    if (fmt === 0) {
      streamId =
        ((buf[q + 7] as number) |
          ((buf[q + 8] as number) << 8) |
          ((buf[q + 9] as number) << 16) |
          ((buf[q + 10] as number) << 24)) >>>
        0;
    }
    q += mh;
    let extended = cs?.extended ?? false;
    let extValue = cs?.extValue ?? 0;
    if (fmt <= 2) {
      extended = field === 0xffffff;
      if (extended) {
        if (buf.length - q < 4) return -1;
        extValue = readU32(buf, q);
        field = extValue;
        q += 4;
      }
    } else if (extended) {
      // Type 3 after an extended timestamp: at a message start the 4 bytes are
      // always there; on a continuation only if the sender repeats them.
      if (buf.length - q < 4) return -1;
      const v = readU32(buf, q);
      if (!(cs as ChunkStream).inMessage) {
        field = v;
        extValue = v;
        q += 4;
      } else if (v === extValue) {
        q += 4;
      }
    }
    // Header complete: commit state.
    if (cs === undefined) {
      cs = {
        timestamp: 0,
        tsField: 0,
        extended: false,
        extValue: 0,
        length: 0,
        type: 0,
        streamId: 0,
        body: null,
        received: 0,
        inMessage: false,
      };
      this.streams.set(csid, cs);
    }
    cs.extended = extended;
    cs.extValue = extValue;
    if (!cs.inMessage) {
      if (fmt === 0) {
        cs.timestamp = field >>> 0;
        cs.tsField = field;
      } else if (fmt === 3) {
        cs.timestamp = (cs.timestamp + (extended ? field : cs.tsField)) >>> 0;
      } else {
        cs.tsField = field;
        cs.timestamp = (cs.timestamp + field) >>> 0;
      }
      if (length > this.maxMessageSize) {
        throw new RtmpChunkError(
          `message of ${length} bytes exceeds ${this.maxMessageSize}`,
          'RTMP_MESSAGE_TOO_LARGE',
        );
      }
      cs.length = length;
      cs.type = type;
      cs.streamId = streamId;
      cs.received = 0;
      cs.body = null;
      cs.inMessage = true;
      if (length === 0) {
        this.complete(csid, cs, onMessage);
        return q;
      }
    }
    this.cur = cs;
    this.curCsid = csid;
    this.bodyLeft = Math.min(this.chunkSize, cs.length - cs.received);
    return q;
  }

  /** Bytes of incomplete messages held now (as allocated). */
  get pending(): number {
    return this.pendingBytes;
  }

  /** Drops every incomplete message and gives its bytes back (the connection is closing). */
  release(): void {
    for (const cs of this.streams.values()) this.drop(cs);
  }

  /** Copies `n` bytes of `buf` at `p` into the message body, growing it by doubling. */
  private append(cs: ChunkStream, buf: Uint8Array, p: number, n: number): void {
    const need = cs.received + n;
    const have = cs.body?.length ?? 0;
    if (need > have) {
      // A message arriving in one piece is allocated at its size; a longer one grows by doubling.
      const size = Math.min(cs.length, Math.max(need, have * 2, need < cs.length ? MIN_BODY_ALLOC : 0));
      this.charge(size - have);
      const body = new Uint8Array(size);
      if (cs.body !== null) body.set(cs.body.subarray(0, cs.received));
      cs.body = body;
    }
    (cs.body as Uint8Array).set(buf.subarray(p, p + n), cs.received);
    cs.received = need;
  }

  private charge(n: number): void {
    if (this.pendingBytes + n > this.maxPendingBytes) {
      throw new RtmpChunkError(
        `over ${this.maxPendingBytes} bytes in unfinished messages on this connection`,
        'RTMP_PENDING_TOO_LARGE',
      );
    }
    if (this.allowance !== null && !this.allowance.grow(n)) {
      throw new RtmpChunkError('the node-wide limit of bytes in unfinished RTMP messages is reached', 'RTMP_PENDING_TOTAL');
    }
    this.pendingBytes += n;
  }

  private drop(cs: ChunkStream): void {
    const held = cs.body?.length ?? 0;
    this.pendingBytes -= held;
    this.allowance?.shrink(held);
    cs.body = null;
    cs.received = 0;
    cs.inMessage = false;
  }

  private complete(csid: number, cs: ChunkStream, onMessage: (msg: RtmpMessage) => void): void {
    const payload = cs.body ?? new Uint8Array(0); // exactly cs.length bytes: the last growth stops at the length
    this.drop(cs);
    if (cs.type === RtmpMessageType.SetChunkSize) {
      if (payload.length < 4) throw new RtmpChunkError('short Set Chunk Size message');
      const size = readU32(payload, 0) & 0x7fffffff;
      if (size < 1 || size > this.maxChunkSize) {
        throw new RtmpChunkError(`chunk size ${size} out of range`, 'RTMP_CHUNK_SIZE_INVALID');
      }
      this.chunkSize = size;
    } else if (cs.type === RtmpMessageType.Abort) {
      if (payload.length < 4) throw new RtmpChunkError('short Abort message');
      const target = this.streams.get(readU32(payload, 0));
      if (target !== undefined && target.inMessage) this.drop(target);
    }
    onMessage({ csid, type: cs.type, streamId: cs.streamId, timestamp: cs.timestamp, payload });
  }
}

function readU32(b: Uint8Array, o: number): number {
  return (((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number)) >>> 0;
}
