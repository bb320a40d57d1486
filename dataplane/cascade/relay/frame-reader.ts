import type { Frame } from '../../protocol/frame-codec.js';
import { relayFrameDecoder } from '../../protocol/relay-frames.js';
import type { LinkStream } from '../../transport/link.js';
import { FrameReader, rawFrame } from '../frame-reader.js';

/** Pulls relay frames (PROTOCOL.md §11) off an ApiRelay stream. */
export type RelayFrameReader = FrameReader<Frame>;

/** A reader of the relay frames of `stream`. */
export function relayFrameReader(stream: LinkStream): RelayFrameReader {
  return new FrameReader(stream, relayFrameDecoder(), rawFrame);
}
