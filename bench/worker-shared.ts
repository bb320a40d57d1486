/**
 * Shared by bench/worker.ts (sender and receiver) and bench/worker-endpoint.ts (the
 * QUIC endpoint in a worker thread): the synthetic tag body layout and the messages
 * between the endpoint worker and the main thread.
 *
 * Tag body (an FLV audio/video tag body, so the hub derives keyframe/sequence-header
 * flags as for real media):
 *   [0]      0x17 video keyframe / 0x27 video inter frame / 0xaf AAC audio
 *   [1]      1 (AVC NALU / AAC raw: never a sequence header)
 *   [2..4]   composition time 0
 *   [5..12]  process.hrtime.bigint() at the sender when the tag was built (ns, CLOCK_MONOTONIC,
 *            the same clock in every process and thread of the machine)
 *   [13..16] sequence number of the tag within its stream (uint32 BE)
 *   [17..]   PATTERN[off + i] with off = (seq * 131) % 65536, so every byte is checkable
 */

export const STAMP_AT = 5;
export const SEQ_AT = 13;
export const PATTERN_AT = 17;
const PATTERN_SPAN = 65_536;
/** Largest body the pattern covers. */
export const MAX_BODY = 192 * 1024;

/** Deterministic pseudo-random bytes (xorshift32), identical in every process. */
export const PATTERN: Buffer = (() => {
  const b = Buffer.allocUnsafe(PATTERN_SPAN + MAX_BODY);
  let x = 0x9e3779b9;
  for (let i = 0; i < b.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
})();

function patternOffset(seq: number): number {
  return (seq * 131) % PATTERN_SPAN;
}

/** Build a tag body of `size` bytes (>= PATTERN_AT) stamped now. */
export function buildBody(kind: 'key' | 'inter' | 'audio', seq: number, size: number): Buffer {
  if (size < PATTERN_AT || size > MAX_BODY) throw new RangeError(`body size ${size} out of range`);
  const body = Buffer.allocUnsafe(size);
  body[0] = kind === 'key' ? 0x17 : kind === 'inter' ? 0x27 : 0xaf;
  body[1] = 1;
  body[2] = 0;
  body[3] = 0;
  body[4] = 0;
  body.writeUInt32BE(seq >>> 0, SEQ_AT);
  const off = patternOffset(seq);
  PATTERN.copy(body, PATTERN_AT, off + PATTERN_AT, off + size);
  body.writeBigUInt64BE(process.hrtime.bigint(), STAMP_AT);
  return body;
}

/** Sequence number and sender stamp of a body; `ok` is false unless every pattern byte matches. */
export function readBody(body: Uint8Array): { seq: number; stampNs: bigint; ok: boolean } {
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const seq = dv.getUint32(SEQ_AT, false);
  const stampNs = dv.getBigUint64(STAMP_AT, false);
  const off = patternOffset(seq);
  const ok =
    body.byteLength >= PATTERN_AT &&
    body.byteLength <= MAX_BODY &&
    Buffer.compare(
      Buffer.from(body.buffer, body.byteOffset + PATTERN_AT, body.byteLength - PATTERN_AT),
      PATTERN.subarray(off + PATTERN_AT, off + body.byteLength),
    ) === 0;
  return { seq, stampNs, ok };
}

/** Endpoint worker → main thread. */
export type FromEndpoint =
  | { t: 'ready'; port: number; tid: number }
  | {
      t: 'batch';
      /** Streams opened by the peer since the last batch (ids). */
      opens: number[];
      /** Pairs (stream id, byte length) of the chunks packed into `buf`, in order. */
      index: Uint32Array;
      buf: ArrayBuffer;
      /** Streams whose peer ended (FIN, reset or link closed) after the chunks above. */
      fins: number[];
    }
  | { t: 'closed' };

/** Main thread → endpoint worker. */
export type ToEndpoint =
  | { t: 'ack'; credits: Uint32Array } // pairs (stream id, bytes consumed)
  | { t: 'reset'; sid: number; code: number }
  | { t: 'close' };

/** The schedstat file of a thread of this process (null: the calling thread). */
export function schedstatPath(tid: number | null): string {
  return tid === null ? '/proc/thread-self/schedstat' : `/proc/self/task/${tid}/schedstat`;
}

/** From a schedstat text: seconds on a CPU, and seconds runnable but waiting for a CPU (run queue). */
export function parseSchedstat(text: string): { cpuS: number; waitS: number } {
  const [run, wait] = text.trim().split(' ');
  return { cpuS: Number(run) / 1e9, waitS: Number(wait) / 1e9 };
}

/** The calling thread's kernel thread id (field 1 of /proc/thread-self/stat). */
export function threadIdOf(statText: string): number {
  return Number(statText.slice(0, statText.indexOf(' ')));
}
