import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  RtmpChunkDecoder,
  RtmpChunkEncoder,
  RtmpChunkError,
  RtmpMessageType,
  type RtmpMessage,
} from '../../dataplane/media/index.js';

function decodeAll(dec: RtmpChunkDecoder, bytes: Uint8Array, splits: number[] = []): RtmpMessage[] {
  const out: RtmpMessage[] = [];
  let p = 0;
  for (const s of splits) {
    const n = Math.min(s, bytes.length - p);
    dec.push(bytes.subarray(p, p + n), (m) => out.push(m));
    p += n;
  }
  dec.push(bytes.subarray(p), (m) => out.push(m));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

function expectClean(push: () => void): void {
  try {
    push();
  } catch (err) {
    assert.ok(err instanceof RtmpChunkError, `unexpected ${String(err)}`);
    assert.match(err.code, /^RTMP_/);
  }
}

const csid = fc.oneof(fc.integer({ min: 2, max: 63 }), fc.integer({ min: 64, max: 319 }), fc.integer({ min: 320, max: 65599 }));
/** A sequence of messages on a few chunk streams, timestamps mostly increasing, some extended. */
const messages = fc.array(
  fc.record({
    csid: fc.oneof(fc.constantFrom(3, 4, 6), csid),
    type: fc.constantFrom(8, 9, 18, 20),
    streamId: fc.constantFrom(0, 1, 0x01020304),
    timestamp: fc.oneof(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0xfffff0, max: 0xffffffff })),
    payload: fc.oneof(fc.uint8Array({ maxLength: 400 }), fc.uint8Array({ minLength: 1000, maxLength: 5000 })),
  }),
  { minLength: 1, maxLength: 25 },
);

describe('RTMP chunk stream', () => {
  test('round-trips a typical audio/video sequence with header compression', () => {
    const enc = new RtmpChunkEncoder();
    const msgs: RtmpMessage[] = [];
    for (let i = 0; i < 50; i++) {
      msgs.push({ csid: 6, type: 9, streamId: 1, timestamp: i * 40, payload: new Uint8Array(i % 10 === 0 ? 3000 : 500).fill(i) });
      msgs.push({ csid: 4, type: 8, streamId: 1, timestamp: i * 23, payload: new Uint8Array(200).fill(i) });
    }
    const bytes = concat(msgs.map((m) => enc.encode(m)));
    const got = decodeAll(new RtmpChunkDecoder(), bytes, [1, 2, 3, 5, 7, 11, 13, 17, 100, 1000]);
    assert.deepEqual(got, msgs);
    // Repeated audio messages use fmt 3 (1-byte header) when delta/length/type repeat.
    const a = enc.encode({ csid: 4, type: 8, streamId: 1, timestamp: 50 * 23, payload: new Uint8Array(200) });
    assert.equal(a[0], (3 << 6) | 4);
    assert.equal(a.length, 1 + 200 + 1, 'fmt-3 header, 128-byte chunk, fmt-3 continuation');
  });

  test('extended timestamps, also on type-3 continuation chunks, with and without the repeat', () => {
    const enc = new RtmpChunkEncoder();
    const m = { csid: 6, type: 9, streamId: 1, timestamp: 0x01000000, payload: new Uint8Array(300).fill(7) };
    const bytes = enc.encode(m);
    // fmt0 header: 1 + 11 + 4 ext; continuations 1 + 4 ext (repeated).
    assert.equal(bytes.length, 1 + 11 + 4 + 300 + 2 * (1 + 4));
    assert.deepEqual(decodeAll(new RtmpChunkDecoder(), bytes, [13, 3]), [m]);
    // A sender that omits the repeat on continuations (FMLE style).
    const noRepeat = concat([
      bytes.subarray(0, 16 + 128),
      bytes.subarray(16 + 128, 16 + 128 + 1),
      bytes.subarray(16 + 128 + 5, 16 + 128 + 5 + 128),
      bytes.subarray(16 + 128 + 5 + 128, 16 + 128 + 5 + 128 + 1),
      bytes.subarray(16 + 128 + 5 + 128 + 5),
    ]);
    assert.deepEqual(decodeAll(new RtmpChunkDecoder(), noRepeat), [m]);
    // Extended delta on a following message.
    const m2 = { ...m, timestamp: 0x01000000 + 0x01000000, payload: new Uint8Array(10) };
    const m3 = { ...m2, timestamp: m2.timestamp + 0x01000000 };
    const enc2 = new RtmpChunkEncoder();
    const dec = new RtmpChunkDecoder();
    assert.deepEqual(decodeAll(dec, concat([enc2.encode(m), enc2.encode(m2), enc2.encode(m3)]), [1]), [m, m2, m3]);
  });

  test('Set Chunk Size and Abort are applied in-band', () => {
    const enc = new RtmpChunkEncoder();
    const dec = new RtmpChunkDecoder();
    const setSize = { csid: 2, type: RtmpMessageType.SetChunkSize, streamId: 0, timestamp: 0, payload: Uint8Array.from([0, 0, 0x10, 0]) };
    const parts = [enc.encode(setSize)];
    enc.chunkSize = 4096;
    const big = { csid: 6, type: 9, streamId: 1, timestamp: 10, payload: new Uint8Array(10_000).fill(1) };
    parts.push(enc.encode(big));
    const got = decodeAll(dec, concat(parts), [3]);
    assert.equal(dec.chunkSize, 4096);
    assert.deepEqual(got, [setSize, big]);

    // Abort: a partial message on csid 6 is discarded, then a new message follows.
    const enc2 = new RtmpChunkEncoder();
    const partial = enc2.encode({ csid: 6, type: 9, streamId: 1, timestamp: 0, payload: new Uint8Array(300) }).subarray(0, 12 + 128);
    const abort = enc2.encode({ csid: 2, type: RtmpMessageType.Abort, streamId: 0, timestamp: 0, payload: Uint8Array.from([0, 0, 0, 6]) });
    const enc3 = new RtmpChunkEncoder();
    const after = { csid: 6, type: 8, streamId: 1, timestamp: 5, payload: new Uint8Array(20).fill(9) };
    const d2 = new RtmpChunkDecoder();
    const got2 = decodeAll(d2, concat([partial, abort, enc3.encode(after)]));
    assert.deepEqual(got2.map((x) => x.type), [RtmpMessageType.Abort, 8]);
    assert.deepEqual(got2[1], after);
  });

  test('decoded payloads are plain copies, never views of the caller\'s Buffer', () => {
    const bytes = Buffer.from(new RtmpChunkEncoder().encode({ csid: 6, type: 9, streamId: 1, timestamp: 0, payload: new Uint8Array(50).fill(3) }));
    const [m] = decodeAll(new RtmpChunkDecoder(), bytes);
    bytes.fill(0);
    assert.ok(m && !Buffer.isBuffer(m.payload));
    assert.deepEqual(m.payload, new Uint8Array(50).fill(3));
  });

  test('bounds: message size, chunk streams, chunk size, headers without state', () => {
    const enc = new RtmpChunkEncoder();
    const tooBig = enc.encode({ csid: 6, type: 9, streamId: 1, timestamp: 0, payload: new Uint8Array(2000) });
    assert.throws(
      () => decodeAll(new RtmpChunkDecoder({ maxMessageSize: 1000 }), tooBig),
      (e: unknown) => e instanceof RtmpChunkError && e.code === 'RTMP_MESSAGE_TOO_LARGE',
    );
    const many = concat(Array.from({ length: 10 }, (_, i) => enc.encode({ csid: 10 + i, type: 8, streamId: 1, timestamp: 0, payload: new Uint8Array(1) })));
    assert.throws(
      () => decodeAll(new RtmpChunkDecoder({ maxChunkStreams: 5 }), many),
      (e: unknown) => e instanceof RtmpChunkError && e.code === 'RTMP_TOO_MANY_CHUNK_STREAMS',
    );
    const zeroSize = enc.encode({ csid: 2, type: 1, streamId: 0, timestamp: 0, payload: new Uint8Array(4) });
    assert.throws(() => decodeAll(new RtmpChunkDecoder(), zeroSize), (e: unknown) => e instanceof RtmpChunkError && e.code === 'RTMP_CHUNK_SIZE_INVALID');
    assert.throws(() => decodeAll(new RtmpChunkDecoder(), Uint8Array.from([0xc5, 1, 2])), (e: unknown) => e instanceof RtmpChunkError);
    const dec = new RtmpChunkDecoder();
    assert.throws(() => decodeAll(dec, Uint8Array.from([0x85, 0, 0, 0])), (e: unknown) => e instanceof RtmpChunkError);
    assert.throws(() => dec.push(new Uint8Array(1), () => undefined), (e: unknown) => e instanceof RtmpChunkError && e.code === 'RTMP_CHUNK_FAILED');
    assert.throws(() => enc.encode({ csid: 1, type: 8, streamId: 0, timestamp: 0, payload: new Uint8Array(1) }), RtmpChunkError);
  });

  test('property: encode → decode round trip for any chunk size and any split', () => {
    fc.assert(
      fc.property(messages, fc.integer({ min: 1, max: 6000 }), fc.array(fc.integer({ min: 1, max: 2000 }), { maxLength: 10 }), (msgs, size, splits) => {
        const enc = new RtmpChunkEncoder();
        enc.chunkSize = size;
        const dec = new RtmpChunkDecoder();
        dec.chunkSize = size;
        const bytes = concat(msgs.map((m) => enc.encode(m)));
        const got = decodeAll(dec, bytes, splits);
        assert.equal(got.length, msgs.length);
        got.forEach((g, i) => {
          const m = msgs[i] as RtmpMessage;
          assert.deepEqual(g, { ...m, timestamp: m.timestamp >>> 0 });
        });
      }),
      { numRuns: 300 },
    );
  });

  test('property: random, truncated and mutated input is rejected cleanly', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.integer({ min: 1, max: 500 }), { maxLength: 5 }), (b, splits) =>
        expectClean(() => decodeAll(new RtmpChunkDecoder({ maxChunkStreams: 8 }), b, splits)),
      ),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(messages, fc.nat(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (msgs, cut, muts) => {
        const enc = new RtmpChunkEncoder();
        const bytes = concat(msgs.map((m) => enc.encode(m)));
        expectClean(() => decodeAll(new RtmpChunkDecoder(), bytes.subarray(0, cut % (bytes.length + 1))));
        for (const [i, x] of muts) bytes[i % bytes.length] = x;
        expectClean(() => decodeAll(new RtmpChunkDecoder(), bytes, [7]));
      }),
      { numRuns: 300 },
    );
  });
});
