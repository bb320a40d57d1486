/**
 * The internal media unit: one FLV tag (audio, video or script) with flags
 * derived once at creation. RTMP, HTTP-FLV, WS-FLV and the cascade all map to
 * it without transcoding.
 */
import { isSequenceHeader, isVideoKeyframe } from './codec-info.js';
import { FlvTagType } from './flv.js';

/** Kind of a {@link MediaTag}. */
export type MediaTagType = 'audio' | 'video' | 'script';

/** One FLV tag. Immutable once created; shared by every subscriber. */
export interface MediaTag {
  readonly type: MediaTagType;
  /** Milliseconds on the publisher's clock, uint32 (wraps after ~49.7 days). */
  readonly timestamp: number;
  /** The FLV tag body (RTMP audio/video/data message payload). */
  readonly data: Uint8Array;
  /** Video keyframe (frame type 1). */
  readonly keyframe: boolean;
  /** Codec sequence header (AVC/HEVC/AV1 config or AAC AudioSpecificConfig). */
  readonly sequenceHeader: boolean;
}

/** Create a tag and compute its flags. `timestamp` is reduced to uint32. */
export function createMediaTag(type: MediaTagType, timestamp: number, data: Uint8Array): MediaTag {
  return {
    type,
    timestamp: timestamp >>> 0,
    data,
    keyframe: type === 'video' && isVideoKeyframe(data),
    sequenceHeader: isSequenceHeader(type, data),
  };
}

/** FLV / RTMP type id (8, 9, 18) of a tag type. */
export function flvTypeId(type: MediaTagType): number {
  return type === 'audio' ? FlvTagType.Audio : type === 'video' ? FlvTagType.Video : FlvTagType.Script;
}

/** Tag type of an FLV / RTMP type id, or null for anything else. */
export function mediaTagType(typeId: number): MediaTagType | null {
  return typeId === FlvTagType.Audio ? 'audio' : typeId === FlvTagType.Video ? 'video' : typeId === FlvTagType.Script ? 'script' : null;
}

/** Signed distance b - a in ms between two uint32 timestamps (wrap-safe). */
export function timestampDiff(a: number, b: number): number {
  return (b - a) | 0;
}

/**
 * Rebases timestamps of one subscriber so its output starts near 0. The base
 * is the first audio/video frame that is not a sequence header; headers and
 * metadata before it go out at 0; anything earlier than the base is clamped
 * to 0 (never negative), and the uint32 wrap is handled.
 */
export class TimestampRebaser {
  private base: number | null = null;
  /** The output timestamp of a tag. */
  map(tag: MediaTag): number {
    if (this.base === null) {
      if (tag.type === 'script' || tag.sequenceHeader) return 0;
      this.base = tag.timestamp;
    }
    const d = timestampDiff(this.base, tag.timestamp);
    return d < 0 ? 0 : d;
  }
}
