/**
 * Joins the tags of a new source onto a stream that keeps its players (a pull from the
 * upper node that moved to another upper node): after {@link SourceSplice.resume} the
 * new source's tags are dropped up to its first keyframe, its codec headers and
 * metadata are dropped when they are the same bytes as before (so players see no codec
 * change unless the source really changed), and its timestamps are shifted so the
 * keyframe lands the real elapsed time after the last tag written: timestamps stay
 * monotonic per track and keep pace with the wall clock. Pure: the caller gives the time.
 */
import { createMediaTag, timestampDiff, type MediaTag, type MediaTagType } from '../../media/media-tag.js';

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);
}

export class SourceSplice {
  /** Added to every source timestamp (uint32 arithmetic). */
  private offset = 0;
  private waiting = false;
  /** Last timestamp written, per track. */
  private readonly lastOut = new Map<MediaTagType, number>();
  private lastAny: number | null = null;
  private lastWriteAt = 0;
  /** Last header / metadata bytes written: video and audio sequence headers, onMetaData. */
  private readonly headers = new Map<string, Uint8Array>();
  /** Tags dropped while waiting for the keyframe of the new source. */
  dropped = 0;

  /** A new source begins: wait for its keyframe. */
  resume(): void {
    this.waiting = true;
  }

  /** True between {@link resume} and the new source's first keyframe. */
  get resuming(): boolean {
    return this.waiting;
  }

  /** The tag to write for `tag` received at `nowMs` (wall or monotonic ms), or null to drop it. */
  map(tag: MediaTag, nowMs: number): MediaTag | null {
    const headerKey = tag.type === 'script' ? 'script' : tag.sequenceHeader ? tag.type : null;
    if (headerKey !== null) {
      if (this.waiting && sameBytes(this.headers.get(headerKey), tag.data)) return null;
      this.headers.set(headerKey, tag.data);
      // A changed header of a new source goes out at the last timestamp (its own is on the old clock).
      if (this.waiting) return this.lastAny === null || this.lastAny === tag.timestamp ? tag : createMediaTag(tag.type, this.lastAny, tag.data);
      return this.out(tag, tag.timestamp + this.offset, nowMs);
    }
    if (this.waiting) {
      if (!tag.keyframe) {
        this.dropped++;
        return null;
      }
      this.waiting = false;
      if (this.lastAny !== null) {
        const gap = Math.max(1, Math.round(nowMs - this.lastWriteAt));
        this.offset = (this.lastAny + gap - tag.timestamp) | 0;
      }
    }
    return this.out(tag, tag.timestamp + this.offset, nowMs);
  }

  private out(tag: MediaTag, ts: number, nowMs: number): MediaTag {
    let t = ts >>> 0;
    const prev = this.lastOut.get(tag.type);
    if (prev !== undefined && timestampDiff(prev, t) < 0) t = prev;
    this.lastOut.set(tag.type, t);
    if (this.lastAny === null || timestampDiff(this.lastAny, t) > 0) this.lastAny = t;
    this.lastWriteAt = nowMs;
    return t === tag.timestamp ? tag : createMediaTag(tag.type, t, tag.data);
  }
}
