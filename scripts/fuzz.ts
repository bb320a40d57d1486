/**
 * Long fuzzing runs over every decoder that reads bytes from the network
 * (not a test: the property tests in test/unit/ run a short version in `npm test`).
 *
 *   npm run fuzz                                   # every target, 20 s each
 *   npm run fuzz -- --seconds 120 --target chunk   # one target, longer
 *   npm run fuzz -- --seed 1234                    # reproducible run
 *   npm run fuzz -- --replay chunk:1234:5678       # re-run one input (target:seed:iteration)
 *
 * Each target runs in its own child process (so a hang can be detected and
 * killed). Every input is derived from (seed, iteration) alone: random bytes,
 * a valid encoding, or a valid encoding with 1-8 mutations (bit flips,
 * interesting integers, inserted/deleted/duplicated/spliced ranges,
 * truncation), fed to the decoder in random-sized chunks. A run passes when
 * every input is either decoded or refused with the decoder's typed error
 * (ProtocolError, MediaError and subclasses), each input takes less than
 * --max-input-ms, and the heap after a full GC does not grow past --max-heap-mb.
 * Anything else is a counterexample: printed with its seed and iteration, its
 * bytes saved to a file, exit code 1.
 */
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Amf0EcmaArray,
  decodeAmf0,
  encodeAmf0,
  encodeFlvHeader,
  encodeFlvTag,
  FlvDemuxer,
  MediaError,
  parseAudioTag,
  parseVideoSequenceHeader,
  RtmpChunkDecoder,
  RtmpChunkEncoder,
  RtmpServerHandshake,
  RTMP_HANDSHAKE_SIZE,
  type Amf0Value,
  type RtmpMessage,
} from '../dataplane/media/index.js';
import {
  CONTROL_MAX_FRAME_BYTES,
  decodeControlFrame,
  encodeControlMessage,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  isControlFrameType,
  PROTOCOL_REVISION,
  ProtocolError,
  type ControlMessage,
} from '../dataplane/protocol/index.js';

// ------------------------------------------------------------------ options

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const SECONDS = Number(arg('seconds') ?? '20');
const MAX_INPUT_MS = Number(arg('max-input-ms') ?? '500');
const MAX_HEAP_MB = Number(arg('max-heap-mb') ?? '64');
const HANG_MS = Math.max(5_000, MAX_INPUT_MS * 20);

const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

// ------------------------------------------------------------------ PRNG

/** xoshiro128** seeded from (seed, iteration) through splitmix32: each input is reproducible alone. */
class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  constructor(seed: number, iteration: number) {
    let x = (seed ^ Math.imul(iteration + 1, 0x9e3779b9)) >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next() | 1;
  }
  u32(): number {
    const r = Math.imul(((Math.imul(this.s1, 5) << 7) | (Math.imul(this.s1, 5) >>> 25)) >>> 0, 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = ((this.s3 << 11) | (this.s3 >>> 21)) >>> 0;
    return r;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor((this.u32() / 0x1_0000_0000) * n);
  }
  /** Integer in [a, b]. */
  range(a: number, b: number): number {
    return a + this.int(b - a + 1);
  }
  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
  /** Sizes skewed towards small values. */
  size(max: number): number {
    return this.chance(0.7) ? this.int(Math.min(max, 32) + 1) : this.int(max + 1);
  }
  string(max: number): string {
    const n = this.size(max);
    let s = '';
    for (let i = 0; i < n; i++) {
      const k = this.int(10);
      s += k < 7 ? String.fromCharCode(this.range(0x20, 0x7e)) : k < 9 ? String.fromCharCode(this.range(0, 0xffff)) : '\u{1f600}';
    }
    return s;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const outb = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    outb.set(p, o);
    o += p.length;
  }
  return outb;
}

// ------------------------------------------------------------------ mutation

const INTERESTING32 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffff, 0x1000000, 0x7fffffff, 0x80000000, 0xffffffff];

/** Applies 1-8 random mutations; `others` supply splice material. */
function mutate(rng: Rng, input: Uint8Array, others: () => Uint8Array): Uint8Array {
  let b: Uint8Array = Uint8Array.from(input);
  const n = rng.range(1, 8);
  for (let k = 0; k < n; k++) {
    const op = rng.int(9);
    const at = rng.int(b.length + 1);
    switch (op) {
      case 0: // bit flip
        if (b.length > 0) {
          const i = rng.int(b.length);
          b[i] = (b[i] as number) ^ (1 << rng.int(8));
        }
        break;
      case 1: // interesting byte
        if (b.length > 0) b[rng.int(b.length)] = rng.pick([0, 1, 0x7f, 0x80, 0xff, rng.int(256)]);
        break;
      case 2: {
        // interesting u32 (big-endian: every length field here is BE), or u24, or u16
        if (b.length >= 4) {
          const i = rng.int(b.length - 3);
          const v = rng.chance(0.2) ? (b.length + rng.range(-2, 2)) >>> 0 : (rng.pick(INTERESTING32) as number);
          const w = rng.pick([2, 3, 4]);
          for (let j = 0; j < w; j++) b[i + j] = (v >>> (8 * (w - 1 - j))) & 0xff;
        }
        break;
      }
      case 3: // insert random bytes
        b = concat([b.subarray(0, at), rng.bytes(rng.size(64)), b.subarray(at)]);
        break;
      case 4: {
        // delete a range
        const len = rng.size(Math.max(0, b.length - at));
        b = concat([b.subarray(0, at), b.subarray(at + len)]);
        break;
      }
      case 5: {
        // duplicate a range
        const len = rng.size(Math.min(256, b.length - at));
        b = concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
        break;
      }
      case 6: {
        // splice part of another valid input
        const o = others();
        const from = rng.int(o.length + 1);
        const len = rng.size(o.length - from);
        b = concat([b.subarray(0, at), o.subarray(from, from + len), b.subarray(at)]);
        break;
      }
      case 7: // truncate
        b = b.subarray(0, at);
        break;
      default: {
        // overwrite a range with one repeated byte
        const len = rng.size(Math.min(64, b.length - at));
        b.fill(rng.pick([0, 0xff, rng.int(256)]), at, at + len);
      }
    }
    if (b.length > 1 << 20) b = b.subarray(0, 1 << 20);
  }
  return b;
}

/** Random split of `bytes` into chunks (sometimes one chunk, sometimes one byte at a time). */
function chunks(rng: Rng, bytes: Uint8Array): Uint8Array[] {
  const mode = rng.int(4);
  if (mode === 0 || bytes.length === 0) return [bytes];
  const parts: Uint8Array[] = [];
  let p = 0;
  const small = mode === 1 && bytes.length <= 4096;
  while (p < bytes.length) {
    const n = small ? 1 : rng.range(1, Math.max(1, rng.chance(0.5) ? 16 : bytes.length));
    parts.push(bytes.subarray(p, p + n));
    p += n;
  }
  return parts;
}

// ------------------------------------------------------------------ targets

interface Target {
  name: string;
  describe: string;
  /** A valid encoding. */
  valid(rng: Rng): Uint8Array;
  /** Feed the input; throw only the decoder's own typed errors. */
  run(rng: Rng, input: Uint8Array): void;
}

/** The decoders' typed refusals: anything else thrown is a bug. */
function isExpected(err: unknown): boolean {
  return err instanceof ProtocolError || err instanceof MediaError;
}

class InvariantError extends Error {}

function controlMessage(rng: Rng): ControlMessage {
  const features = (): string[] => Array.from({ length: rng.int(4) }, () => rng.string(64));
  switch (rng.int(8)) {
    case 0:
      return {
        type: 'hello',
        protocol: rng.chance(0.9) ? PROTOCOL_REVISION : rng.range(0, 3),
        name: rng.string(128) || 'n',
        version: rng.string(64),
        secret: rng.chance(0.3) ? null : rng.string(1024) || 's',
        ...(rng.chance(0.5) ? { instanceId: rng.string(64) } : {}),
        ...(rng.chance(0.5) ? { features: features() } : {}),
      };
    case 1: {
      const hb = rng.range(100, 60_000);
      return {
        type: 'welcome',
        protocol: PROTOCOL_REVISION,
        clientId: rng.int(2 ** 31),
        clientName: rng.string(128),
        serverName: rng.string(128),
        serverVersion: rng.string(64),
        heartbeatIntervalMs: hb,
        heartbeatTimeoutMs: Math.min(300_000, hb + rng.int(10_000)),
        features: features(),
      };
    }
    case 2:
      return { type: 'reject', code: rng.int(256), reason: rng.string(512), ...(rng.chance(0.5) ? { retryAfterMs: rng.int(86_400_000) } : {}) };
    case 3:
      return { type: 'ping', seq: rng.u32(), ts: rng.u32() * 1000 };
    case 4:
      return { type: 'pong', seq: rng.u32(), ts: rng.u32() * 1000 };
    case 5:
      return {
        type: 'announce',
        reset: rng.chance(0.5),
        added: Array.from({ length: rng.size(40) }, () => ({ path: rng.string(64) || 'live/a' })),
        removed: Array.from({ length: rng.size(10) }, () => rng.string(64) || 'live/b'),
      };
    case 6:
      return { type: 'goaway', code: rng.int(256), reason: rng.string(512) };
    default:
      return { type: 'error', code: rng.int(256), reason: rng.string(512), ...(rng.chance(0.5) ? { ref: rng.int(2 ** 31) } : {}) };
  }
}

function amf0Value(rng: Rng, depth: number): Amf0Value {
  const k = rng.int(depth > 3 ? 6 : 9);
  switch (k) {
    case 0:
      return rng.chance(0.5) ? rng.u32() / (rng.u32() + 1) : rng.pick([0, -0, NaN, Infinity, -1, 2 ** 53]);
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.chance(0.05) ? 'x'.repeat(rng.range(0x10000, 0x10100)) : rng.string(40); // long strings become LONG_STRING
    case 3:
      return null;
    case 4:
      return undefined;
    case 5:
      return new Date(rng.int(2 ** 41));
    case 6: {
      const o: Record<string, Amf0Value> = {};
      for (let i = rng.int(6); i > 0; i--) o[rng.string(12)] = amf0Value(rng, depth + 1);
      return o;
    }
    case 7: {
      const o: Record<string, Amf0Value> = {};
      for (let i = rng.int(6); i > 0; i--) o[rng.string(12)] = amf0Value(rng, depth + 1);
      return new Amf0EcmaArray(o);
    }
    default:
      return Array.from({ length: rng.int(6) }, () => amf0Value(rng, depth + 1));
  }
}

function amf0Sequence(rng: Rng): Uint8Array {
  const values = Array.from({ length: rng.range(1, 5) }, () => amf0Value(rng, 0));
  if (rng.chance(0.5)) values.unshift(rng.pick(['connect', 'publish', 'play', 'createStream', '@setDataFrame', 'onMetaData']));
  return encodeAmf0(...values);
}

function rtmpMessages(rng: Rng): Uint8Array {
  const enc = new RtmpChunkEncoder();
  const parts: Uint8Array[] = [];
  const csids = [2, 3, 4, 5, 6, rng.range(7, 63), rng.range(64, 319), rng.range(320, 65599)];
  let ts = rng.chance(0.2) ? 0xffff00 : 0;
  for (let i = rng.range(1, 12); i > 0; i--) {
    if (rng.chance(0.15)) {
      const size = rng.pick([1, 128, 4096, 60000, rng.range(1, 70000)]);
      const p = new Uint8Array(4);
      new DataView(p.buffer).setUint32(0, size);
      parts.push(enc.encode({ csid: 2, type: 1, streamId: 0, timestamp: 0, payload: p }));
      enc.chunkSize = size;
      continue;
    }
    const type = rng.pick([8, 9, 18, 20, 3, 4, 5, 6, 22, rng.int(256)]);
    const payload = type === 18 || type === 20 ? amf0Sequence(rng) : rng.bytes(rng.chance(0.1) ? rng.int(20_000) : rng.size(600));
    ts = (ts + rng.int(rng.chance(0.1) ? 0x1000000 : 100)) >>> 0;
    const msg: RtmpMessage = { csid: rng.pick(csids), type, streamId: rng.chance(0.8) ? 1 : rng.u32(), timestamp: ts, payload };
    parts.push(enc.encode(msg));
  }
  return concat(parts);
}

function flvStream(rng: Rng): Uint8Array {
  const parts: Uint8Array[] = [encodeFlvHeader(rng.chance(0.8), rng.chance(0.8))];
  let ts = 0;
  for (let i = rng.range(0, 10); i > 0; i--) {
    const type = rng.pick([8, 9, 18]);
    let data: Uint8Array;
    if (type === 18) data = amf0Sequence(rng);
    else if (type === 9) {
      // AVC / HEVC / enhanced headers, sometimes a sequence header with an AVCDecoderConfigurationRecord
      const head = rng.pick([0x17, 0x27, 0x1c, 0x90, 0x80, rng.int(256)]);
      data = concat([Uint8Array.of(head, rng.int(3), 0, 0, 0), rng.chance(0.5) ? Uint8Array.of(1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 8, 0x67, 0x64, 0, 0x1f, 0xac, 0xd9, 0x40, 0x50) : new Uint8Array(0), rng.bytes(rng.size(200))]);
    } else {
      data = concat([Uint8Array.of(rng.pick([0xaf, 0x2f, rng.int(256)]), rng.int(2)), rng.chance(0.5) ? Uint8Array.of(0x12, 0x10) : rng.bytes(rng.size(8)), rng.bytes(rng.size(200))]);
    }
    ts += rng.int(100);
    parts.push(encodeFlvTag(type, ts, data));
  }
  return concat(parts);
}

const targets: Target[] = [
  {
    name: 'frame',
    describe: 'cascade FrameDecoder (control stream) + decodeControlFrame',
    valid: (rng) => concat(Array.from({ length: rng.range(1, 6) }, () => encodeControlMessage(controlMessage(rng)))),
    run(rng, input) {
      const dec = new FrameDecoder({ maxFrameBytes: CONTROL_MAX_FRAME_BYTES, isKnownType: isControlFrameType });
      for (const c of chunks(rng, input)) {
        for (const f of dec.push(c)) decodeControlFrame(f);
        if (dec.bufferedBytes > FRAME_HEADER_BYTES + CONTROL_MAX_FRAME_BYTES) throw new InvariantError(`decoder holds ${dec.bufferedBytes} bytes`);
      }
      dec.finish();
    },
  },
  {
    name: 'control',
    describe: 'control message bodies (JSON mutated in place) → decode → re-encode round trip',
    valid: (rng) => encodeControlMessage(controlMessage(rng)).subarray(FRAME_HEADER_BYTES),
    run(rng, input) {
      const type = rng.chance(0.9) ? rng.range(1, 8) : rng.int(256);
      const msg = decodeControlFrame({ type, payload: input });
      // Whatever decodes must encode again and decode to the same message.
      const again = encodeControlMessage(msg);
      const dec = new FrameDecoder({ maxFrameBytes: CONTROL_MAX_FRAME_BYTES, isKnownType: isControlFrameType });
      const frames = dec.push(again);
      const f = frames[0];
      if (frames.length !== 1 || !f) throw new InvariantError('re-encoded message is not one frame');
      const back = decodeControlFrame(f);
      if (JSON.stringify(back) !== JSON.stringify(msg)) throw new InvariantError('control message does not round-trip');
    },
  },
  {
    name: 'handshake',
    describe: 'RTMP server handshake (C0/C1/C2, simple and digest schemes)',
    valid(rng) {
      const c1 = rng.bytes(RTMP_HANDSHAKE_SIZE);
      if (rng.chance(0.5)) c1.fill(0, 4, 8); // simple handshake: version field zero
      return concat([Uint8Array.of(3), c1, rng.bytes(RTMP_HANDSHAKE_SIZE), rng.bytes(rng.size(64))]);
    },
    run(rng, input) {
      const hs = new RtmpServerHandshake();
      for (const c of chunks(rng, input)) {
        const step = hs.push(c);
        if (step.reply && step.reply.length !== 1 + 2 * RTMP_HANDSHAKE_SIZE) throw new InvariantError(`reply of ${step.reply.length} bytes`);
      }
    },
  },
  {
    name: 'chunk',
    describe: 'RTMP chunk decoder (formats 0-3, extended timestamps, set chunk size, abort) + AMF0 of commands',
    valid: rtmpMessages,
    run(rng, input) {
      const dec = new RtmpChunkDecoder({ maxMessageSize: 1 << 20, maxPendingBytes: 4 << 20 });
      for (const c of chunks(rng, input)) {
        dec.push(c, (m) => {
          if (m.type === 18 || m.type === 20) decodeAmf0(m.payload);
        });
      }
    },
  },
  {
    name: 'amf0',
    describe: 'AMF0 decoder (every type incl. references/AVM+ refusals, nesting limit) + re-encode',
    valid: amf0Sequence,
    run(_rng, input) {
      const values = decodeAmf0(input);
      encodeAmf0(...values);
    },
  },
  {
    name: 'flv',
    describe: 'FLV demuxer + codec info of audio/video sequence headers',
    valid: flvStream,
    run(rng, input) {
      const demux = new FlvDemuxer();
      for (const c of chunks(rng, input)) {
        demux.push(c, (tag) => {
          try {
            if (tag.type === 9) parseVideoSequenceHeader(tag.data);
            else if (tag.type === 8) parseAudioTag(tag.data);
            else decodeAmf0(tag.data);
          } catch (err) {
            if (!isExpected(err)) throw err;
          }
        });
      }
    },
  },
];

// ------------------------------------------------------------------ child: one target

/** The input of (seed, iteration) for a target. */
function inputOf(t: Target, seed: number, iteration: number): { rng: Rng; input: Uint8Array; kind: string } {
  const rng = new Rng(seed, iteration);
  const k = rng.int(10);
  if (k === 0) return { rng, input: rng.bytes(rng.size(4096)), kind: 'random' };
  const valid = t.valid(rng);
  if (k === 1) return { rng, input: valid, kind: 'valid' };
  return { rng, input: mutate(rng, valid, () => t.valid(rng)), kind: 'mutated' };
}

interface Failure {
  target: string;
  seed: number;
  iteration: number;
  kind: string;
  error: string;
  file: string;
  ms: number;
}

function saveInput(t: string, seed: number, iteration: number, input: Uint8Array): string {
  const file = path.join(tmpdir(), `fuzz-${t}-${seed}-${iteration}.bin`);
  writeFileSync(file, input);
  return file;
}

/** Runs one input; returns a failure description or null. */
function runOne(t: Target, seed: number, iteration: number): { failure: Failure | null; ms: number; bytes: number; accepted: boolean } {
  const { rng, input, kind } = inputOf(t, seed, iteration);
  const t0 = performance.now();
  let error: string | null = null;
  let accepted = true;
  try {
    t.run(rng, input);
  } catch (err) {
    accepted = false;
    if (!isExpected(err)) error = err instanceof Error ? (err.stack ?? err.message) : String(err);
  }
  const ms = performance.now() - t0;
  if (error === null && ms > MAX_INPUT_MS) error = `input took ${ms.toFixed(1)} ms (limit ${MAX_INPUT_MS} ms)`;
  if (error === null) return { failure: null, ms, bytes: input.length, accepted };
  return {
    failure: { target: t.name, seed, iteration, kind, error, file: saveInput(t.name, seed, iteration, input), ms },
    ms,
    bytes: input.length,
    accepted,
  };
}

interface ChildReport {
  type: 'progress' | 'done';
  runs: number;
  iteration: number;
  failures: Failure[];
  heapStartMb: number;
  heapEndMb: number;
  rssMaxMb: number;
  maxInputMs: number;
  bytes: number;
  /** Inputs decoded without a refusal. */
  accepted: number;
}

function gcHeapMb(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

function child(name: string, seed: number): void {
  const t = targets.find((x) => x.name === name);
  if (!t) throw new Error(`unknown target ${name}`);
  const send = (r: ChildReport): void => {
    process.send?.(r);
  };
  // Warm up (JIT, lazy module state) before taking the baseline heap.
  for (let i = 0; i < 200; i++) runOne(t, seed ^ 0x5a5a5a5a, i);
  const heapStartMb = gcHeapMb();
  const failures: Failure[] = [];
  const end = Date.now() + SECONDS * 1000;
  let iteration = 0;
  let maxInputMs = 0;
  let bytes = 0;
  let accepted = 0;
  let rssMaxMb = 0;
  let lastReport = Date.now();
  while (Date.now() < end && failures.length < 5) {
    const r = runOne(t, seed, iteration);
    if (r.failure) failures.push(r.failure);
    maxInputMs = Math.max(maxInputMs, r.ms);
    bytes += r.bytes;
    if (r.accepted) accepted++;
    iteration++;
    if ((iteration & 255) === 0 && Date.now() - lastReport >= 500) {
      lastReport = Date.now();
      rssMaxMb = Math.max(rssMaxMb, process.memoryUsage().rss / 2 ** 20);
      send({ type: 'progress', runs: iteration, iteration, failures: [], heapStartMb, heapEndMb: 0, rssMaxMb, maxInputMs, bytes, accepted });
    }
  }
  rssMaxMb = Math.max(rssMaxMb, process.memoryUsage().rss / 2 ** 20);
  const heapEndMb = gcHeapMb();
  send({ type: 'done', runs: iteration, iteration, failures, heapStartMb, heapEndMb, rssMaxMb, maxInputMs, bytes, accepted });
}

// ------------------------------------------------------------------ parent

interface Row {
  target: string;
  runs: number;
  perSec: number;
  acceptedPct: number;
  mb: number;
  maxInputMs: number;
  heapGrowthMb: number;
  rssMaxMb: number;
  verdict: string;
}

function runTarget(t: Target, seed: number): Promise<{ row: Row; failures: Failure[] }> {
  const self = fileURLToPath(import.meta.url);
  const c = fork(self, ['--child', t.name, '--seed', String(seed), '--seconds', String(SECONDS), '--max-input-ms', String(MAX_INPUT_MS)], {
    execArgv: ['--import', 'tsx', '--expose-gc', '--max-old-space-size=512', '--stack-size=984'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const started = Date.now();
  let last: ChildReport | null = null;
  let lastAt = Date.now();
  return new Promise((resolve) => {
    let verdict: string | null = null;
    const watchdog = setInterval(() => {
      if (Date.now() - lastAt > HANG_MS + (last ? 0 : 20_000)) {
        verdict = `HANG after iteration ${last?.iteration ?? 0} (no progress for ${HANG_MS} ms): replay iterations from ${last?.iteration ?? 0} with --replay ${t.name}:${seed}:N`;
        c.kill('SIGKILL');
      }
    }, 500);
    c.on('message', (m: ChildReport) => {
      last = m;
      lastAt = Date.now();
    });
    c.on('exit', (code, signal) => {
      clearInterval(watchdog);
      const r: ChildReport | null = last;
      const secs = (Date.now() - started) / 1000;
      const failures = r?.type === 'done' ? r.failures : [];
      const growth = r?.type === 'done' ? r.heapEndMb - r.heapStartMb : NaN;
      if (verdict === null) {
        if (r?.type !== 'done') verdict = `CRASH (exit ${code ?? signal})`;
        else if (failures.length > 0) verdict = `FAIL (${failures.length} counterexample${failures.length > 1 ? 's' : ''})`;
        else if (growth > MAX_HEAP_MB) verdict = `FAIL (heap grew ${growth.toFixed(1)} MiB)`;
        else verdict = 'ok';
      }
      resolve({
        row: {
          target: t.name,
          runs: r?.runs ?? 0,
          perSec: (r?.runs ?? 0) / Math.max(secs, 0.001),
          acceptedPct: r && r.runs > 0 ? (100 * r.accepted) / r.runs : 0,
          mb: (r?.bytes ?? 0) / 2 ** 20,
          maxInputMs: r?.maxInputMs ?? 0,
          heapGrowthMb: growth,
          rssMaxMb: r?.rssMaxMb ?? 0,
          verdict,
        },
        failures,
      });
    });
  });
}

function replay(spec: string): void {
  const [name, seedS, iterS] = spec.split(':');
  const t = targets.find((x) => x.name === name);
  if (!t || seedS === undefined || iterS === undefined) throw new Error('--replay TARGET:SEED:ITERATION');
  const { input, kind } = inputOf(t, Number(seedS), Number(iterS));
  out(`${t.name} seed ${seedS} iteration ${iterS}: ${kind} input of ${input.length} bytes`);
  out(Buffer.from(input.subarray(0, 256)).toString('hex') + (input.length > 256 ? '…' : ''));
  const r = runOne(t, Number(seedS), Number(iterS));
  out(r.failure ? `FAIL in ${r.ms.toFixed(1)} ms\n${r.failure.error}\nsaved: ${r.failure.file}` : `ok in ${r.ms.toFixed(1)} ms`);
  process.exitCode = r.failure ? 1 : 0;
}

async function main(): Promise<void> {
  const childName = arg('child');
  const seed = Number(arg('seed') ?? String(Date.now() % 0x7fffffff)) >>> 0;
  if (childName) return child(childName, seed);
  const rep = arg('replay');
  if (rep) return replay(rep);
  const only = arg('target');
  const chosen = only ? targets.filter((t) => only.split(',').includes(t.name)) : targets;
  if (chosen.length === 0) throw new Error(`unknown target ${only}; targets: ${targets.map((t) => t.name).join(', ')}`);
  out(`fuzz: seed ${seed}, ${SECONDS} s per target, input limit ${MAX_INPUT_MS} ms, heap growth limit ${MAX_HEAP_MB} MiB`);
  const rows: Row[] = [];
  const failures: Failure[] = [];
  for (const t of chosen) {
    out(`- ${t.name}: ${t.describe}`);
    const r = await runTarget(t, seed);
    rows.push(r.row);
    failures.push(...r.failures);
  }
  out('');
  out('target     |      runs |   runs/s | decoded % |   MiB fed | max ms/input | heap growth MiB | max RSS MiB | verdict');
  out('-----------|-----------|----------|-----------|-----------|--------------|-----------------|-------------|--------');
  for (const r of rows) {
    out(
      `${r.target.padEnd(10)} | ${String(r.runs).padStart(9)} | ${r.perSec.toFixed(0).padStart(8)} | ${r.acceptedPct.toFixed(1).padStart(9)} | ${r.mb.toFixed(1).padStart(9)} | ${r.maxInputMs.toFixed(1).padStart(12)} | ${r.heapGrowthMb.toFixed(2).padStart(15)} | ${r.rssMaxMb.toFixed(0).padStart(11)} | ${r.verdict}`,
    );
  }
  for (const f of failures) {
    out(`\ncounterexample: ${f.target} seed ${f.seed} iteration ${f.iteration} (${f.kind} input, ${f.ms.toFixed(1)} ms), bytes in ${f.file}`);
    out(`  reproduce: npm run fuzz -- --replay ${f.target}:${f.seed}:${f.iteration}`);
    out(`  ${f.error.split('\n').slice(0, 8).join('\n  ')}`);
  }
  process.exitCode = rows.every((r) => r.verdict === 'ok') ? 0 : 1;
}

await main();
