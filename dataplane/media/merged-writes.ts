/**
 * Writing a player's merged batch to its socket: the framing around a batch
 * (an HTTP/1.1 chunk, a WebSocket binary frame) and one corked write of all
 * parts, which Node turns into a single writev of shared buffers (no copy).
 * The framing helpers are pure.
 */

/** Default write merging window of players, ms (SRS's `mw_latency` default). */
export const DEFAULT_MERGE_WRITE_MS = 350;

/** `\r\n`, the trailer of an HTTP chunk. */
export const CRLF: Uint8Array = Buffer.from('\r\n');

/** The header of an HTTP/1.1 chunk of `size` bytes (`size` must be > 0). */
export function httpChunkHeader(size: number): Uint8Array {
  return Buffer.from(`${size.toString(16)}\r\n`, 'latin1');
}

/** The header of an unmasked, final WebSocket binary frame (server to client) carrying `size` bytes. */
export function wsBinaryFrameHeader(size: number): Uint8Array {
  if (size < 126) return Uint8Array.of(0x82, size);
  if (size < 0x10000) return Uint8Array.of(0x82, 126, size >>> 8, size & 0xff);
  const h = new Uint8Array(10);
  h[0] = 0x82;
  h[1] = 127;
  // Payload length as uint64; batches stay far below 2^32.
  const hi = Math.floor(size / 0x1_0000_0000);
  h[2] = (hi >>> 24) & 0xff;
  h[3] = (hi >>> 16) & 0xff;
  h[4] = (hi >>> 8) & 0xff;
  h[5] = hi & 0xff;
  h[6] = (size >>> 24) & 0xff;
  h[7] = (size >>> 16) & 0xff;
  h[8] = (size >>> 8) & 0xff;
  h[9] = size & 0xff;
  return h;
}

/** The socket side used by {@link writeParts}. */
interface CorkableSocket {
  cork(): void;
  uncork(): void;
  write(chunk: Uint8Array): boolean;
  readonly writableLength: number;
  readonly destroyed: boolean;
}

/**
 * Write `parts` in one go (cork, write each, uncork: one writev). Returns
 * false when the socket is gone or holds more than `highWaterBytes` unsent.
 */
export function writeParts(socket: CorkableSocket, parts: readonly Uint8Array[], highWaterBytes: number): boolean {
  if (socket.destroyed) return false;
  socket.cork();
  for (const p of parts) socket.write(p);
  socket.uncork();
  return socket.writableLength < highWaterBytes;
}
