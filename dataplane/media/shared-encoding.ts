/**
 * Wire encodings of a tag shared by every player that sends it identically.
 *
 * A tag's FLV or RTMP bytes depend on the tag and a few per-player values
 * (the rebased timestamp; for RTMP also the chunk size and message stream
 * id). Players that joined within the same GOP share those values, so the
 * bytes are built once per stream and handed to all of them: no per-player
 * encoding, no per-player copy. Pure: no I/O.
 */
import { encodeFlvTag } from './flv.js';
import { flvTypeId, type MediaTag } from './media-tag.js';
import { encodeRtmpMessageFmt0 } from './rtmp-chunk-encoder.js';
import { Csid } from './rtmp-message.js';

/** Different encodings kept per tag; past this (players with scattered bases) bytes are built uncached. */
export const MAX_ENCODINGS_PER_TAG = 8;

const cache = new WeakMap<MediaTag, Map<string | number, Uint8Array>>();

/**
 * The bytes of `tag` for `key`, built with `encode` on the first request and
 * shared afterwards. `key` must determine the bytes completely.
 */
function sharedEncoding(tag: MediaTag, key: string | number, encode: () => Uint8Array): Uint8Array {
  let byKey = cache.get(tag);
  const hit = byKey?.get(key);
  if (hit !== undefined) return hit;
  const built = encode();
  // A Buffer view, so sockets take it as is (a plain Uint8Array is wrapped on every write).
  const bytes = Buffer.isBuffer(built) ? built : Buffer.from(built.buffer, built.byteOffset, built.byteLength);
  if (byKey === undefined) {
    byKey = new Map();
    cache.set(tag, byKey);
  }
  if (byKey.size < MAX_ENCODINGS_PER_TAG) byKey.set(key, bytes);
  return bytes;
}

/** The FLV tag (header + body + PreviousTagSize) of `tag` at output timestamp `timestamp`, shared. */
export function sharedFlvTag(tag: MediaTag, timestamp: number): Uint8Array {
  return sharedEncoding(tag, timestamp, () => encodeFlvTag(flvTypeId(tag.type), timestamp, tag.data));
}

/** RTMP chunk stream id a media tag is sent on. */
function rtmpCsidOf(tag: MediaTag): number {
  return tag.type === 'audio' ? Csid.Audio : tag.type === 'video' ? Csid.Video : Csid.Data;
}

/**
 * The RTMP chunks of `tag` as one self-contained message (type-0 header, so
 * it depends on no earlier message of the connection), shared.
 */
export function sharedRtmpMessage(tag: MediaTag, timestamp: number, chunkSize: number, streamId: number): Uint8Array {
  return sharedEncoding(tag, `r${chunkSize}:${streamId}:${timestamp}`, () =>
    encodeRtmpMessageFmt0(
      { csid: rtmpCsidOf(tag), type: flvTypeId(tag.type), streamId, timestamp, payload: tag.data },
      chunkSize,
    ),
  );
}
