/**
 * Media frames (PROTOCOL.md §10): what a MediaPush or MediaPull stream carries.
 * One QUIC stream per forwarded media stream; FLV tags are the unit.
 *
 *   opener  → OPEN {path, chain}
 *   other   → ACCEPT {chain} | REFUSE {code, reason}
 *   sender  → TAG* … END {reason}, then FIN
 *
 * Pure codecs: bytes in, typed frames out; violations throw {@link ProtocolError}.
 */
import { z } from 'zod';
import { CloseCode } from './close-codes.js';
import { encodeFrame, FRAME_HEADER_BYTES, FrameDecoder, frameTypeGuard, type Frame } from './frame-codec.js';
import { decodeJsonPayload, malformedFrame } from './json-payload.js';
import { ProtocolError } from './protocol-error.js';

/** Media frame type bytes (0x40-0x7f are reserved for media). */
export const MediaFrameType = {
  Open: 0x40,
  Accept: 0x41,
  Refuse: 0x42,
  Tag: 0x43,
  End: 0x44,
} as const;

/** True for frame types valid on a media stream. */
export const isMediaFrameType = frameTypeGuard(MediaFrameType);

/** Largest media frame payload: one FLV tag body of up to 8 MiB (+ 5 bytes of tag header). */
export const MEDIA_MAX_FRAME_BYTES = 8 * 1024 * 1024 + 16;
/** Largest JSON payload of OPEN/ACCEPT/REFUSE/END. */
export const MEDIA_MAX_JSON_BYTES = 16 * 1024;
/** Most node names in a chain (the depth of a tree a stream can cross). */
const MEDIA_MAX_CHAIN = 32;
/** Bytes of a TAG frame's own header: u8 FLV tag type + u32 BE timestamp. */
const TAG_HEADER_BYTES = 5;

/** Why a media stream was refused (REFUSE `code`). */
export const MediaRefuseCode = {
  /** The path already has a publisher on the receiving node. */
  Busy: 1,
  /** The receiving node is already in the chain: forwarding would form a loop. */
  Loop: 2,
  /** The path is not live there and cannot be fetched from elsewhere. */
  NotFound: 3,
  /** The path is not a valid stream path. */
  InvalidPath: 4,
  /** The node does not forward media now (shutting down, link going away, disabled). */
  Unavailable: 5,
  /** Anything else. */
  Internal: 6,
} as const;

const nodeName = z.string().min(1).max(128);
const chain = z.array(nodeName).max(MEDIA_MAX_CHAIN);
const reason = z.string().max(512);

/** Schemas of the JSON media frames (unknown fields are stripped). */
const mediaFrameSchemas = {
  open: z.object({ path: z.string().min(1).max(512), chain }),
  accept: z.object({ chain }),
  refuse: z.object({ code: z.number().int().min(0).max(0xff), reason }),
  end: z.object({ reason }),
} as const;

/** OPEN: the opener names the path and the chain of nodes (see PROTOCOL.md §10). */
type MediaOpenFrame = { type: 'open' } & z.infer<(typeof mediaFrameSchemas)['open']>;
/** ACCEPT: the other side takes the stream; `chain` is where the stream has been (pull answers). */
type MediaAcceptFrame = { type: 'accept' } & z.infer<(typeof mediaFrameSchemas)['accept']>;
/** REFUSE: the other side does not take the stream. */
type MediaRefuseFrame = { type: 'refuse' } & z.infer<(typeof mediaFrameSchemas)['refuse']>;
/** END: the sender's stream ended (unpublished) with a reason; FIN follows. */
type MediaEndFrame = { type: 'end' } & z.infer<(typeof mediaFrameSchemas)['end']>;
/** TAG: one FLV tag. */
interface MediaTagFrame {
  type: 'tag';
  /** FLV tag type id: 8 audio, 9 video, 18 script. */
  tagType: 8 | 9 | 18;
  /** uint32 ms. */
  timestamp: number;
  /** The FLV tag body. */
  body: Uint8Array;
}

/** Any media frame. */
export type MediaFrame = MediaOpenFrame | MediaAcceptFrame | MediaRefuseFrame | MediaEndFrame | MediaTagFrame;

const TYPE_BYTE = {
  open: MediaFrameType.Open,
  accept: MediaFrameType.Accept,
  refuse: MediaFrameType.Refuse,
  tag: MediaFrameType.Tag,
  end: MediaFrameType.End,
} as const;

const utf8 = new TextEncoder();

/** Bytes a TAG frame adds before its body: frame header + tag header. */
export const TAG_FRAME_OVERHEAD = FRAME_HEADER_BYTES + TAG_HEADER_BYTES;

/**
 * Write a TAG frame's header (frame header + tag header, {@link TAG_FRAME_OVERHEAD} bytes)
 * at `offset` of `out`; its body of `bodyBytes` bytes goes right after. Lets a sender lay
 * out several tags in one buffer with one copy of each body.
 */
export function writeTagFrameHeader(out: Uint8Array, offset: number, tagType: number, timestamp: number, bodyBytes: number): void {
  if (tagType !== 8 && tagType !== 9 && tagType !== 18) throw new RangeError(`FLV tag type must be 8, 9 or 18, got ${tagType}`);
  if (bodyBytes + TAG_HEADER_BYTES > MEDIA_MAX_FRAME_BYTES) throw new RangeError(`tag body too large: ${bodyBytes}`);
  const len = TAG_HEADER_BYTES + bodyBytes;
  out[offset] = MediaFrameType.Tag;
  out[offset + 1] = len >>> 24;
  out[offset + 2] = (len >>> 16) & 0xff;
  out[offset + 3] = (len >>> 8) & 0xff;
  out[offset + 4] = len & 0xff;
  out[offset + 5] = tagType;
  const ts = timestamp >>> 0;
  out[offset + 6] = ts >>> 24;
  out[offset + 7] = (ts >>> 16) & 0xff;
  out[offset + 8] = (ts >>> 8) & 0xff;
  out[offset + 9] = ts & 0xff;
}

/** Encode a TAG frame (header + tag header + body) in one buffer. */
export function encodeTagFrame(tagType: number, timestamp: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(TAG_FRAME_OVERHEAD + body.byteLength);
  writeTagFrameHeader(out, 0, tagType, timestamp, body.byteLength);
  out.set(body, TAG_FRAME_OVERHEAD);
  return out;
}

/** Encode any media frame. Throws RangeError for a JSON frame over {@link MEDIA_MAX_JSON_BYTES}. */
export function encodeMediaFrame(frame: MediaFrame): Uint8Array {
  if (frame.type === 'tag') return encodeTagFrame(frame.tagType, frame.timestamp, frame.body);
  const { type, ...body } = frame;
  const payload = utf8.encode(JSON.stringify(body));
  if (payload.byteLength > MEDIA_MAX_JSON_BYTES) throw new RangeError(`media frame ${type} too large: ${payload.byteLength} bytes`);
  return encodeFrame(TYPE_BYTE[type], payload);
}


/** Decode and validate one media frame. Throws {@link ProtocolError} (UnknownFrameType, MalformedFrame, FrameTooLarge). */
export function decodeMediaFrame(frame: Frame): MediaFrame {
  const p = frame.payload;
  switch (frame.type) {
    case MediaFrameType.Tag: {
      if (p.byteLength < TAG_HEADER_BYTES) throw malformedFrame('tag: shorter than its header');
      const tagType = p[0] as number;
      if (tagType !== 8 && tagType !== 9 && tagType !== 18) throw malformedFrame('tag: invalid tag type');
      const timestamp = new DataView(p.buffer, p.byteOffset + 1, 4).getUint32(0, false);
      return { type: 'tag', tagType, timestamp, body: p.subarray(TAG_HEADER_BYTES) };
    }
    case MediaFrameType.Open:
      return decodeJson('open', p);
    case MediaFrameType.Accept:
      return decodeJson('accept', p);
    case MediaFrameType.Refuse:
      return decodeJson('refuse', p);
    case MediaFrameType.End:
      return decodeJson('end', p);
    default:
      throw new ProtocolError(
        CloseCode.UnknownFrameType,
        `protocol error: unknown frame type 0x${frame.type.toString(16).padStart(2, '0')}`,
      );
  }
}

function decodeJson<N extends keyof typeof mediaFrameSchemas>(name: N, payload: Uint8Array): MediaFrame {
  if (payload.byteLength > MEDIA_MAX_JSON_BYTES) {
    throw new ProtocolError(CloseCode.FrameTooLarge, `protocol error: frame too large (${name}: ${payload.byteLength} bytes)`);
  }
  const data = decodeJsonPayload(name, payload, mediaFrameSchemas[name]) as object;
  return { type: name, ...data } as MediaFrame;
}

/**
 * A frame decoder for media streams (media frame types, {@link MEDIA_MAX_FRAME_BYTES}).
 * `shareChunks`: TAG bodies may be views of the pushed chunks (see FrameDecoderOptions).
 */
export function createMediaFrameDecoder(options: { shareChunks?: boolean } = {}): FrameDecoder {
  return new FrameDecoder({ maxFrameBytes: MEDIA_MAX_FRAME_BYTES, isKnownType: isMediaFrameType, shareChunks: options.shareChunks ?? false });
}

/** Name of a refuse code, for logs. */
export function mediaRefuseName(code: number): string {
  for (const [name, v] of Object.entries(MediaRefuseCode)) if (v === code) return name;
  return `code ${code}`;
}
