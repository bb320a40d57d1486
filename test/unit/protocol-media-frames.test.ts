import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CloseCode,
  createMediaFrameDecoder,
  decodeMediaFrame,
  encodeFrame,
  encodeMediaFrame,
  encodeTagFrame,
  FRAME_HEADER_BYTES,
  TAG_FRAME_OVERHEAD,
  writeTagFrameHeader,
  isMediaFrameType,
  MEDIA_MAX_FRAME_BYTES,
  MediaFrameType,
  ProtocolError,
  type MediaFrame,
} from '../../dataplane/protocol/index.js';
import { concat, split } from '../helpers/bytes.js';

/** Feed chunks to a fresh media decoder and decode every frame; returns frames or the ProtocolError. */
function decodeAll(chunks: Uint8Array[], shareChunks = false): { frames: MediaFrame[]; error: ProtocolError | null } {
  const dec = createMediaFrameDecoder({ shareChunks });
  const frames: MediaFrame[] = [];
  try {
    for (const c of chunks) for (const f of dec.push(c)) frames.push(decodeMediaFrame(f));
    dec.finish();
    return { frames, error: null };
  } catch (err) {
    if (err instanceof ProtocolError) return { frames, error: err };
    throw err;
  }
}



const name = fc.string({ minLength: 1, maxLength: 20 });
const frameArb: fc.Arbitrary<MediaFrame> = fc.oneof(
  fc.record({ type: fc.constant('open' as const), path: fc.string({ minLength: 1, maxLength: 60 }), chain: fc.array(name, { maxLength: 5 }) }),
  fc.record({ type: fc.constant('accept' as const), chain: fc.array(name, { maxLength: 5 }) }),
  fc.record({ type: fc.constant('refuse' as const), code: fc.integer({ min: 0, max: 255 }), reason: fc.string({ maxLength: 100 }) }),
  fc.record({ type: fc.constant('end' as const), reason: fc.string({ maxLength: 100 }) }),
  fc.record({
    type: fc.constant('tag' as const),
    tagType: fc.constantFrom(8 as const, 9 as const, 18 as const),
    timestamp: fc.integer({ min: 0, max: 0xffff_ffff }),
    body: fc.uint8Array({ maxLength: 400 }),
  }),
);

function normal(f: MediaFrame): unknown {
  return f.type === 'tag' ? { ...f, body: [...f.body] } : { ...f };
}

describe('media frames', () => {
  test('type range 0x40-0x44 and TAG layout: u8 tag type, u32 BE timestamp, body', () => {
    assert.ok(isMediaFrameType(0x40) && isMediaFrameType(0x44));
    assert.ok(!isMediaFrameType(0x3f) && !isMediaFrameType(0x45) && !isMediaFrameType(0x01));
    const b = encodeTagFrame(9, 0x01020304, Uint8Array.of(0xaa, 0xbb));
    assert.deepEqual([...b], [MediaFrameType.Tag, 0, 0, 0, 7, 9, 1, 2, 3, 4, 0xaa, 0xbb]);
    assert.throws(() => encodeTagFrame(7, 0, new Uint8Array()), RangeError);
  });

  test('round trip of any frame sequence, split anywhere', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (frames, cuts) => {
        const bytes = concat(frames.map(encodeMediaFrame));
        const r = decodeAll(split(bytes, cuts));
        assert.equal(r.error, null);
        assert.deepEqual(r.frames.map(normal), frames.map(normal));
        const shared = decodeAll(split(bytes, cuts).map((c) => c.slice()), true);
        assert.equal(shared.error, null);
        assert.deepEqual(shared.frames.map(normal), frames.map(normal));
      }),
      { numRuns: 300 },
    );
  });

  test('TAG frames laid out in one buffer with writeTagFrameHeader equal encodeTagFrame one by one', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(8, 9, 18), fc.integer({ min: 0, max: 0xffff_ffff }), fc.uint8Array({ maxLength: 300 })), { maxLength: 8 }),
        (tags) => {
          const out = new Uint8Array(tags.reduce((n, [, , b]) => n + TAG_FRAME_OVERHEAD + b.byteLength, 0));
          let o = 0;
          for (const [type, ts, body] of tags) {
            writeTagFrameHeader(out, o, type, ts, body.byteLength);
            out.set(body, o + TAG_FRAME_OVERHEAD);
            o += TAG_FRAME_OVERHEAD + body.byteLength;
          }
          assert.deepEqual([...out], [...concat(tags.map(([type, ts, body]) => encodeTagFrame(type, ts, body)))]);
        },
      ),
    );
    assert.throws(() => writeTagFrameHeader(new Uint8Array(10), 0, 7, 0, 0), RangeError);
    assert.throws(() => writeTagFrameHeader(new Uint8Array(10), 0, 9, 0, MEDIA_MAX_FRAME_BYTES), RangeError);
  });

  test('random bytes: frames or a typed ProtocolError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.array(fc.nat(), { maxLength: 6 }), (bytes, cuts) => {
        decodeAll(split(bytes, cuts)); // throws (fails) only for a non-ProtocolError
      }),
      { numRuns: 1000 },
    );
  });

  test('random bytes behind a valid type byte', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0x40, max: 0x44 }), fc.uint8Array({ maxLength: 300 }), (type, payload) => {
        decodeAll([encodeFrame(type, payload)]);
      }),
      { numRuns: 1000 },
    );
  });

  test('truncated valid frames are MalformedFrame at FIN', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 4 }), fc.nat(), (frames, cut) => {
        const bytes = concat(frames.map(encodeMediaFrame));
        const n = cut % bytes.byteLength;
        const r = decodeAll([bytes.subarray(0, n)]);
        // a cut exactly at a frame boundary is a clean end
        if (r.error) assert.ok([CloseCode.MalformedFrame].includes(r.error.code as 0x31), `code ${r.error.code}`);
      }),
      { numRuns: 500 },
    );
  });

  test('mutated valid frames: frames or a typed ProtocolError', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { minLength: 1, maxLength: 4 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        (frames, muts) => {
          const bytes = concat(frames.map(encodeMediaFrame));
          for (const [at, v] of muts) bytes[at % bytes.byteLength] = v;
          decodeAll([bytes]);
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('specific rejections carry the right close code', () => {
    const code = (bytes: Uint8Array): number | undefined => decodeAll([bytes]).error?.code;
    assert.equal(code(Uint8Array.of(0x01, 0, 0, 0, 0)), CloseCode.UnknownFrameType, 'control frame type on a media stream');
    assert.equal(code(Uint8Array.of(0x80)), CloseCode.UnknownFrameType, 'relay frame type');
    const big = new Uint8Array(FRAME_HEADER_BYTES);
    big[0] = MediaFrameType.Tag;
    new DataView(big.buffer).setUint32(1, MEDIA_MAX_FRAME_BYTES + 1, false);
    assert.equal(code(big), CloseCode.FrameTooLarge, 'oversize TAG rejected from its header');
    assert.equal(code(encodeFrame(MediaFrameType.Tag, Uint8Array.of(9, 0, 0))), CloseCode.MalformedFrame, 'TAG shorter than its header');
    assert.equal(code(encodeFrame(MediaFrameType.Tag, Uint8Array.of(7, 0, 0, 0, 0))), CloseCode.MalformedFrame, 'bad FLV tag type');
    const json = (t: number, v: unknown): Uint8Array => encodeFrame(t, new TextEncoder().encode(JSON.stringify(v)));
    assert.equal(code(json(MediaFrameType.Open, { path: '', chain: [] })), CloseCode.MalformedFrame);
    assert.equal(code(json(MediaFrameType.Open, { path: 'a/b' })), CloseCode.MalformedFrame, 'chain required');
    assert.equal(code(json(MediaFrameType.Open, { path: 'a/b', chain: Array(33).fill('n') })), CloseCode.MalformedFrame, 'chain too long');
    assert.equal(code(json(MediaFrameType.Refuse, { code: 256, reason: '' })), CloseCode.MalformedFrame);
    assert.equal(code(json(MediaFrameType.End, [])), CloseCode.MalformedFrame, 'not an object');
    assert.equal(code(encodeFrame(MediaFrameType.Accept, Uint8Array.of(0xff, 0xfe))), CloseCode.MalformedFrame, 'bad UTF-8');
    assert.equal(code(encodeFrame(MediaFrameType.End, new Uint8Array(20_000).fill(0x20))), CloseCode.FrameTooLarge, 'JSON frame over 16 KiB');
    const ok = decodeAll([json(MediaFrameType.Open, { path: 'live/x', chain: ['a'], extra: 1 })]);
    assert.deepEqual(ok.frames, [{ type: 'open', path: 'live/x', chain: ['a'] }], 'unknown fields ignored');
  });

  test('after an error the decoder stays failed; a huge declared length does not allocate or hang', () => {
    const dec = createMediaFrameDecoder();
    const hdr = Uint8Array.of(MediaFrameType.Tag, 0xff, 0xff, 0xff, 0xff);
    assert.throws(() => dec.push(hdr), ProtocolError);
    assert.throws(() => dec.push(Uint8Array.of(0x40)), ProtocolError);
    const dec2 = createMediaFrameDecoder();
    const almost = new Uint8Array(FRAME_HEADER_BYTES);
    almost[0] = MediaFrameType.Tag;
    new DataView(almost.buffer).setUint32(1, MEDIA_MAX_FRAME_BYTES, false);
    assert.deepEqual(dec2.push(almost), [], 'waits for the payload');
    assert.throws(() => dec2.finish(), ProtocolError);
  });
});

describe('PROTOCOL.md §10', () => {
  test('the media frame table matches MediaFrameType', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(new URL('../../dataplane/PROTOCOL.md', import.meta.url), 'utf8');
    const start = doc.indexOf('## 10. Media forwarding');
    assert.ok(start >= 0);
    const section = doc.slice(start, doc.indexOf('\n## ', start + 5));
    const rows = [...section.matchAll(/^\| `0x([0-9a-f]{2})` \| ([A-Z]+) \|/gm)].map((m) => [parseInt(m[1]!, 16), m[2]!]);
    const expected = Object.entries(MediaFrameType).map(([name, v]) => [v, name.toUpperCase()]);
    assert.deepEqual(rows, expected);
  });
});
