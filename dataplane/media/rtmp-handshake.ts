/**
 * RTMP handshake, server side. Pure: bytes in, bytes out.
 *
 * The client sends C0 (version 3) + C1 (1536 bytes), the server answers
 * S0 + S1 + S2, the client sends C2 (1536 bytes). Two forms exist:
 * - plain: S2 echoes C1;
 * - digest ("complex", Flash Player ≥ 9, ffmpeg, OBS): C1 carries an
 *   HMAC-SHA256 digest keyed with the Flash Player key at one of two offset
 *   schemes; the server answers with an S1 digest keyed with the FMS key and an
 *   S2 signed with a key derived from the client digest.
 * C2 content is not validated (many clients send arbitrary bytes); its size is.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { RtmpHandshakeError } from './errors.js';

/** Size of C1/C2/S1/S2. */
export const RTMP_HANDSHAKE_SIZE = 1536;
/** The only RTMP version accepted in C0. */
const RTMP_VERSION = 3;

const DIGEST_LEN = 32;
const RANDOM_CRUD = Uint8Array.from([
  0xf0, 0xee, 0xc2, 0x4a, 0x80, 0x68, 0xbe, 0xe8, 0x2e, 0x00, 0xd0, 0xd1, 0x02, 0x9e, 0x7e, 0x57, 0x6e, 0xec, 0x5d,
  0x2d, 0x29, 0x80, 0x6f, 0xab, 0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb, 0x31, 0xae,
]);
const FMS_TEXT = Buffer.from('Genuine Adobe Flash Media Server 001', 'latin1');
const FP_TEXT = Buffer.from('Genuine Adobe Flash Player 001', 'latin1');
/** Key a server signs S1 with (text only). */
export const FMS_KEY = FMS_TEXT;
/** Key a client signs C1 with (text only). */
export const FP_KEY = FP_TEXT;
/** Key for the S2 signature derivation (text + crud). */
export const FMS_KEY_FULL = Buffer.concat([FMS_TEXT, RANDOM_CRUD]);

/** Digest scheme of a C1/S1: 0 = digest after the key block (offset base 772), 1 = digest first (base 8). */
export type DigestScheme = 0 | 1;

function hmac(data: Uint8Array, key: Uint8Array): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** Offset of the 32-byte digest within a 1536-byte C1/S1 for a scheme. */
export function digestOffset(sig: Uint8Array, scheme: DigestScheme): number {
  const base = scheme === 1 ? 8 : 772;
  const sum = (sig[base] as number) + (sig[base + 1] as number) + (sig[base + 2] as number) + (sig[base + 3] as number);
  return (sum % 728) + base + 4;
}

/** HMAC over the 1536-byte block with the 32 digest bytes at `offset` left out. */
function computeDigest(sig: Uint8Array, offset: number, key: Uint8Array): Buffer {
  const msg = Buffer.concat([sig.subarray(0, offset), sig.subarray(offset + DIGEST_LEN)]);
  return hmac(msg, key);
}

/** The scheme whose digest in `sig` validates with `key`, or null (plain handshake). */
export function findDigestScheme(sig: Uint8Array, key: Uint8Array): DigestScheme | null {
  if (sig.length !== RTMP_HANDSHAKE_SIZE) return null;
  for (const scheme of [1, 0] as const) {
    const off = digestOffset(sig, scheme);
    const expected = computeDigest(sig, off, key);
    if (Buffer.compare(expected, sig.subarray(off, off + DIGEST_LEN)) === 0) return scheme;
  }
  return null;
}

/** Write a digest into a 1536-byte block in place (used for S1, and by tests for C1). */
export function imprintDigest(sig: Uint8Array, scheme: DigestScheme, key: Uint8Array): void {
  const off = digestOffset(sig, scheme);
  sig.set(computeDigest(sig, off, key), off);
}

/**
 * Build S0+S1+S2 for a C1. With a digest C1 the answer is the digest form;
 * otherwise the plain form (S1 version zero, S2 echoes C1).
 */
export function createServerHandshake(c1: Uint8Array): Uint8Array {
  if (c1.length !== RTMP_HANDSHAKE_SIZE) {
    throw new RtmpHandshakeError(`C1 must be ${RTMP_HANDSHAKE_SIZE} bytes, got ${c1.length}`, 'RTMP_HANDSHAKE_SIZE');
  }
  const out = new Uint8Array(1 + 2 * RTMP_HANDSHAKE_SIZE);
  out[0] = RTMP_VERSION;
  const s1 = out.subarray(1, 1 + RTMP_HANDSHAKE_SIZE);
  const s2 = out.subarray(1 + RTMP_HANDSHAKE_SIZE);
  s1.set(randomBytes(RTMP_HANDSHAKE_SIZE));
  // time = 0
  s1.fill(0, 0, 4);
  const clientScheme = c1[4] === 0 ? null : findDigestScheme(c1, FP_KEY);
  if (clientScheme === null) {
    s1.fill(0, 4, 8); // version 0: plain handshake
    s2.set(c1);
    return out;
  }
  // Server version 1.2.3.4 (< 3 in byte 4): clients such as ffmpeg accept S1/S2
  // without re-validating, others validate the digests we compute below.
  s1.set([1, 2, 3, 4], 4);
  imprintDigest(s1, clientScheme, FMS_KEY);
  const off = digestOffset(c1, clientScheme);
  const key = hmac(c1.subarray(off, off + DIGEST_LEN), FMS_KEY_FULL);
  s2.set(randomBytes(RTMP_HANDSHAKE_SIZE - DIGEST_LEN));
  const s2Body = s2.subarray(0, RTMP_HANDSHAKE_SIZE - DIGEST_LEN);
  s2.set(hmac(s2Body, key), RTMP_HANDSHAKE_SIZE - DIGEST_LEN);
  return out;
}

/** Result of feeding bytes to {@link RtmpServerHandshake}. */
interface HandshakeStep {
  /** Bytes to send to the client (S0+S1+S2), if any. */
  reply?: Uint8Array;
  /** True once C2 has been received. */
  done: boolean;
  /** Bytes after C2 (the start of the chunk stream), when done. */
  rest?: Uint8Array;
}

/** Incremental server handshake state machine. */
export class RtmpServerHandshake {
  private buf = new Uint8Array(0);
  private state: 'c0c1' | 'c2' | 'done' | 'failed' = 'c0c1';

  /** Feed received bytes. Throws {@link RtmpHandshakeError} on a bad C0 version. */
  push(data: Uint8Array): HandshakeStep {
    if (this.state === 'failed') throw new RtmpHandshakeError('handshake already failed');
    if (this.state === 'done') return { done: true, rest: data };
    const merged = new Uint8Array(this.buf.length + data.length);
    merged.set(this.buf);
    merged.set(data, this.buf.length);
    this.buf = merged;
    const step: HandshakeStep = { done: false };
    if (this.state === 'c0c1') {
      if (this.buf.length >= 1 && this.buf[0] !== RTMP_VERSION) {
        this.state = 'failed';
        throw new RtmpHandshakeError(`unsupported RTMP version ${this.buf[0]}`, 'RTMP_HANDSHAKE_VERSION');
      }
      if (this.buf.length < 1 + RTMP_HANDSHAKE_SIZE) return step;
      step.reply = createServerHandshake(this.buf.subarray(1, 1 + RTMP_HANDSHAKE_SIZE));
      this.buf = this.buf.slice(1 + RTMP_HANDSHAKE_SIZE);
      this.state = 'c2';
    }
    if (this.state === 'c2' && this.buf.length >= RTMP_HANDSHAKE_SIZE) {
      this.state = 'done';
      step.done = true;
      step.rest = this.buf.subarray(RTMP_HANDSHAKE_SIZE);
      this.buf = new Uint8Array(0);
    }
    return step;
  }
}
