import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CloseCode,
  CONTROL_MAX_FRAME_BYTES,
  encodeFrame,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  isControlFrameType,
  ProtocolError,
  type Frame,
} from '../../dataplane/protocol/index.js';
import { concat, split } from '../helpers/bytes.js';

const controlDecoder = (): FrameDecoder =>
  new FrameDecoder({ maxFrameBytes: CONTROL_MAX_FRAME_BYTES, isKnownType: isControlFrameType });



/** Feed chunks; returns the frames or the ProtocolError. Anything else is a test failure. */
function feed(dec: FrameDecoder, chunks: Uint8Array[], finish = true): { frames: Frame[]; error: ProtocolError | null } {
  const frames: Frame[] = [];
  try {
    for (const c of chunks) frames.push(...dec.push(c));
    if (finish) dec.finish();
    return { frames, error: null };
  } catch (err) {
    if (err instanceof ProtocolError) return { frames, error: err };
    throw err;
  }
}

const frameArb = fc.record({
  type: fc.integer({ min: 1, max: 8 }),
  payload: fc.uint8Array({ maxLength: 300 }),
});

describe('frame codec', () => {
  test('header layout: u8 type, u32 BE length, payload', () => {
    const f = encodeFrame(0x04, new Uint8Array([9, 8, 7]));
    assert.deepEqual([...f], [0x04, 0, 0, 0, 3, 9, 8, 7]);
    assert.equal(FRAME_HEADER_BYTES, 5);
  });

  test('round trip of frame sequences split at arbitrary points', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (frames, cuts) => {
        const bytes = concat(frames.map((f) => encodeFrame(f.type, f.payload)));
        const { frames: out, error } = feed(controlDecoder(), split(bytes, cuts));
        assert.equal(error, null);
        assert.equal(out.length, frames.length);
        out.forEach((f, i) => {
          assert.equal(f.type, frames[i]?.type);
          assert.deepEqual([...f.payload], [...(frames[i]?.payload ?? [])]);
        });
      }),
    );
  });

  test('byte-at-a-time feeding gives the same frames', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 5 }), (frames) => {
        const bytes = concat(frames.map((f) => encodeFrame(f.type, f.payload)));
        const chunks = [...bytes].map((b) => new Uint8Array([b]));
        const { frames: out, error } = feed(controlDecoder(), chunks);
        assert.equal(error, null);
        assert.equal(out.length, frames.length);
      }),
    );
  });

  test('truncated input: frames before the cut, then MalformedFrame at finish (or nothing if cut on a boundary)', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 6 }), fc.nat(), (frames, cutSeed) => {
        const encoded = frames.map((f) => encodeFrame(f.type, f.payload));
        const bytes = concat(encoded);
        const cut = cutSeed % bytes.byteLength;
        const { frames: out, error } = feed(controlDecoder(), [bytes.subarray(0, cut)]);
        let boundary = 0;
        let whole = 0;
        for (const e of encoded) {
          if (boundary + e.byteLength > cut) break;
          boundary += e.byteLength;
          whole++;
        }
        assert.equal(out.length, whole);
        if (boundary === cut) assert.equal(error, null);
        else assert.equal(error?.code, CloseCode.MalformedFrame);
      }),
    );
  });

  test('random bytes: valid frames or a typed ProtocolError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.nat(), { maxLength: 10 }), (bytes, cuts) => {
        const { frames, error } = feed(controlDecoder(), split(bytes, cuts));
        for (const f of frames) assert.ok(isControlFrameType(f.type));
        if (error) {
          assert.ok(
            [CloseCode.MalformedFrame, CloseCode.FrameTooLarge, CloseCode.UnknownFrameType].includes(
              error.code as 0x31 | 0x32 | 0x33,
            ),
          );
        }
      }),
    );
  });

  test('mutated valid streams: decoded frames are within limits, errors are typed', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { minLength: 1, maxLength: 6 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        (frames, mutations) => {
          const bytes = concat(frames.map((f) => encodeFrame(f.type, f.payload)));
          for (const [pos, val] of mutations) bytes[pos % bytes.byteLength] = val;
          const { frames: out } = feed(controlDecoder(), [bytes]);
          for (const f of out) assert.ok(f.payload.byteLength <= CONTROL_MAX_FRAME_BYTES);
        },
      ),
    );
  });

  test('oversize header is rejected before the payload arrives', () => {
    const dec = controlDecoder();
    const header = new Uint8Array([0x04, 0, 1, 0, 1]); // 65537 bytes
    assert.throws(() => dec.push(header), (e: unknown) => e instanceof ProtocolError && e.code === CloseCode.FrameTooLarge);
    // stays failed
    assert.throws(() => dec.push(new Uint8Array([1])), (e: unknown) => e instanceof ProtocolError && e.code === CloseCode.FrameTooLarge);
    assert.throws(() => dec.finish(), ProtocolError);
  });

  test('exactly the limit is accepted', () => {
    const dec = controlDecoder();
    const out = dec.push(encodeFrame(0x06, new Uint8Array(CONTROL_MAX_FRAME_BYTES)));
    assert.equal(out.length, 1);
    assert.equal(out[0]?.payload.byteLength, CONTROL_MAX_FRAME_BYTES);
  });

  test('unknown type is rejected on its first byte', () => {
    const dec = controlDecoder();
    assert.throws(() => dec.push(new Uint8Array([0x7f])), (e: unknown) => e instanceof ProtocolError && e.code === CloseCode.UnknownFrameType);
  });

  test('a 4 GiB length claim does not allocate', () => {
    const dec = new FrameDecoder({ maxFrameBytes: 16 * 1024 * 1024, isKnownType: () => true });
    assert.throws(() => dec.push(new Uint8Array([1, 0xff, 0xff, 0xff, 0xff])), (e: unknown) => e instanceof ProtocolError && e.code === CloseCode.FrameTooLarge);
  });

  test('payloads are private copies', () => {
    const dec = controlDecoder();
    const bytes = encodeFrame(0x04, new Uint8Array([1, 2, 3]));
    const [f] = dec.push(bytes);
    bytes.fill(0);
    dec.push(encodeFrame(0x05, new Uint8Array([4, 5, 6])));
    assert.deepEqual([...(f?.payload ?? [])], [1, 2, 3]);
  });

  describe('shareChunks', () => {
    const sharing = (): FrameDecoder =>
      new FrameDecoder({ maxFrameBytes: CONTROL_MAX_FRAME_BYTES, isKnownType: isControlFrameType, shareChunks: true });
    const anyBytes = fc.oneof(
      fc.array(frameArb, { maxLength: 20 }).map((frames) => concat(frames.map((f) => encodeFrame(f.type, f.payload)))),
      fc.uint8Array({ maxLength: 400 }),
      // valid frames, then garbage
      fc.tuple(fc.array(frameArb, { maxLength: 5 }), fc.uint8Array({ maxLength: 40 })).map(([frames, tail]) =>
        concat([...frames.map((f) => encodeFrame(f.type, f.payload)), tail]),
      ),
    );

    test('same frames and same errors as the copying decoder, for any bytes split anywhere', () => {
      fc.assert(
        fc.property(anyBytes, fc.array(fc.nat(), { maxLength: 30 }), (bytes, cuts) => {
          const chunks = split(bytes, cuts);
          const copied = feed(controlDecoder(), chunks);
          const shared = feed(sharing(), chunks.map((c) => c.slice()));
          assert.equal(shared.error?.code, copied.error?.code);
          assert.equal(shared.error?.message, copied.error?.message);
          assert.deepEqual(
            shared.frames.map((f) => [f.type, [...f.payload]]),
            copied.frames.map((f) => [f.type, [...f.payload]]),
          );
        }),
      );
    });

    test('a frame whole inside a chunk is a view of it; one across chunks is a copy', () => {
      const dec = sharing();
      const a = encodeFrame(0x04, new Uint8Array([1, 2, 3]));
      const b = encodeFrame(0x05, new Uint8Array([4, 5, 6]));
      const chunk = concat([a, b.subarray(0, 6)]);
      const [fa] = dec.push(chunk);
      assert.equal(fa?.payload.buffer, chunk.buffer);
      const [fb] = dec.push(b.slice(6));
      assert.notEqual(fb?.payload.buffer, chunk.buffer);
      assert.deepEqual([...(fb?.payload ?? [])], [4, 5, 6]);
      assert.equal(dec.bufferedBytes, 0);
    });

    test('an oversize length is refused as soon as its header is complete, across chunks', () => {
      const dec = sharing();
      assert.deepEqual(dec.push(new Uint8Array([0x04, 0x00])), []);
      assert.throws(() => dec.push(new Uint8Array([0xff, 0xff, 0xff, 0x00])), (e: unknown) => e instanceof ProtocolError && e.code === CloseCode.FrameTooLarge);
    });
  });
});
