import type { Frame, FrameDecoder } from '../../protocol/frame-codec.js';
import { relayFrameDecoder } from '../../protocol/relay-frames.js';
import type { LinkStream } from '../../transport/link.js';

/**
 * Pulls relay frames (PROTOCOL.md §11) off an ApiRelay stream. `next()` resolves the
 * next frame, or null at FIN; it rejects with ProtocolError on a framing violation
 * (also FIN inside a frame) and with the transport's error when the stream is reset.
 */
export class RelayFrameReader {
  private readonly decoder: FrameDecoder = relayFrameDecoder();
  private queue: Frame[] = [];
  private ended = false;

  constructor(private readonly stream: LinkStream) {}

  async next(): Promise<Frame | null> {
    for (;;) {
      const f = this.queue.shift();
      if (f) return f;
      if (this.ended) return null;
      const chunk = await this.stream.read();
      if (chunk === null) {
        this.decoder.finish();
        this.ended = true;
        continue;
      }
      this.queue = this.decoder.push(chunk);
    }
  }
}
