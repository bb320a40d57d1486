import type { Frame, FrameDecoder } from '../protocol/frame-codec.js';
import type { LinkStream } from '../transport/link.js';

/**
 * Pulls frames off one LinkStream: the control stream (link/), media streams
 * (forwarding/) and relay streams (relay/) alike. `next()` resolves the next frame, or
 * null after FIN; it rejects with ProtocolError on a framing violation (also FIN inside
 * a frame) or a frame `decode` refuses, and with the transport's error when the stream
 * is reset or the link closes.
 */
export class FrameReader<T> {
  private readonly queue: T[] = [];
  private finished = false;

  constructor(
    private readonly stream: LinkStream,
    readonly decoder: FrameDecoder,
    /** Turns each frame into a message as soon as its chunk arrives. */
    private readonly decode: (frame: Frame) => T,
    /** Runs after each chunk's frames are queued, with how many it completed (e.g. to bound what is buffered). */
    private readonly afterChunk?: (frames: number) => void,
  ) {}

  async next(): Promise<T | null> {
    for (;;) {
      if (this.queue.length > 0) return this.queue.shift()!;
      if (this.finished) return null;
      await this.fill();
    }
  }

  /** A frame of a chunk already read, without a wait; undefined when none is left. */
  take(): T | undefined {
    return this.queue.shift();
  }

  /** True once the FIN was read. */
  get ended(): boolean {
    return this.finished;
  }

  /** Reads one chunk (or the FIN) and queues the frames it completes. */
  async fill(): Promise<void> {
    const chunk = await this.stream.read();
    if (chunk === null) {
      this.decoder.finish();
      this.finished = true;
      return;
    }
    const frames = this.decoder.push(chunk);
    for (const frame of frames) this.queue.push(this.decode(frame));
    this.afterChunk?.(frames.length);
  }
}

/** The frame as it is. */
export const rawFrame = (frame: Frame): Frame => frame;
