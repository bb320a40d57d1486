import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeFlvHeader, encodeFlvTag, FlvDemuxer, FlvError, type FlvTag } from '../../dataplane/media/index.js';

const tagArb = fc.record({
  type: fc.constantFrom(8, 9, 18),
  timestamp: fc.oneof(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 0xffffffff })),
  data: fc.uint8Array({ maxLength: 3000 }),
});

function mux(tags: FlvTag[]): Uint8Array {
  return Uint8Array.from(Buffer.concat([encodeFlvHeader(true, true), ...tags.map((t) => encodeFlvTag(t.type, t.timestamp, t.data))]));
}

function demux(bytes: Uint8Array, splits: number[] = []): { tags: FlvTag[]; demuxer: FlvDemuxer } {
  const demuxer = new FlvDemuxer();
  const tags: FlvTag[] = [];
  let p = 0;
  for (const s of splits) {
    const n = Math.min(s, bytes.length - p);
    demuxer.push(bytes.subarray(p, p + n), (t) => tags.push(t));
    p += n;
  }
  demuxer.push(bytes.subarray(p), (t) => tags.push(t));
  return { tags, demuxer };
}

function expectClean(bytes: Uint8Array, splits: number[] = []): void {
  try {
    demux(bytes, splits);
  } catch (err) {
    assert.ok(err instanceof FlvError, `unexpected ${String(err)}`);
    assert.match(err.code, /^FLV_/);
  }
}

describe('FLV', () => {
  test('header and tag layout', () => {
    assert.equal(Buffer.from(encodeFlvHeader(true, true)).toString('hex'), '464c5601050000000900000000');
    assert.equal(encodeFlvHeader(false, true)[4], 1);
    const t = encodeFlvTag(9, 0x12345678, Uint8Array.from([1, 2, 3]));
    assert.equal(Buffer.from(t).toString('hex'), '09000003' + '345678' + '12' + '000000' + '010203' + '0000000e');
  });

  test('mux → demux round trip, byte by byte', () => {
    const tags: FlvTag[] = [
      { type: 18, timestamp: 0, data: Uint8Array.from([2, 0, 1, 0x61]) },
      { type: 9, timestamp: 0, data: Uint8Array.from([0x17, 0, 0, 0, 0]) },
      { type: 8, timestamp: 23, data: Uint8Array.from([0xaf, 1, 9]) },
      { type: 9, timestamp: 0xffffffff, data: new Uint8Array(0) },
    ];
    const bytes = mux(tags);
    const { tags: got, demuxer } = demux(bytes, Array.from({ length: bytes.length }, () => 1));
    assert.deepEqual(got, tags);
    assert.deepEqual(demuxer.header, { hasAudio: true, hasVideo: true });
  });

  test('demuxed tag bodies are copies of the input', () => {
    const bytes = Buffer.from(mux([{ type: 8, timestamp: 1, data: Uint8Array.from([1, 2, 3]) }]));
    const { tags } = demux(bytes);
    bytes.fill(0);
    assert.deepEqual(tags[0]?.data, Uint8Array.from([1, 2, 3]));
  });

  test('rejects bad signature, version, PreviousTagSize, tag type, encryption', () => {
    const good = mux([{ type: 9, timestamp: 0, data: Uint8Array.from([1, 2]) }]);
    const code = (b: Uint8Array): string => {
      try {
        demux(b);
        return 'ok';
      } catch (e) {
        return e instanceof FlvError ? e.code : 'other';
      }
    };
    const bad = (i: number, v: number): Uint8Array => {
      const b = good.slice();
      b[i] = v;
      return b;
    };
    assert.equal(code(bad(0, 0x47)), 'FLV_BAD_SIGNATURE');
    assert.equal(code(bad(3, 2)), 'FLV_BAD_VERSION');
    assert.equal(code(bad(12, 1)), 'FLV_BAD_PREVIOUS_TAG_SIZE');
    assert.equal(code(bad(13, 7)), 'FLV_BAD_TAG_TYPE');
    assert.equal(code(bad(13, 0x29)), 'FLV_ENCRYPTED');
    assert.equal(code(bad(good.length - 1, 0)), 'FLV_BAD_PREVIOUS_TAG_SIZE');
    assert.equal(code(good), 'ok');
  });

  test('property: round trip with any split', () => {
    fc.assert(
      fc.property(fc.array(tagArb, { maxLength: 15 }), fc.array(fc.integer({ min: 1, max: 4000 }), { maxLength: 8 }), (tags, splits) => {
        assert.deepEqual(demux(mux(tags), splits).tags, tags.map((t) => ({ ...t, timestamp: t.timestamp >>> 0 })));
      }),
      { numRuns: 300 },
    );
  });

  test('property: random, truncated and mutated input is rejected cleanly', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => expectClean(b)), { numRuns: 500 });
    // Random bytes behind a valid header exercise the tag parser, not just the signature check.
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => expectClean(Uint8Array.from([...encodeFlvHeader(true, true), ...b]))), { numRuns: 500 });
    fc.assert(
      fc.property(fc.array(tagArb, { minLength: 1, maxLength: 8 }), fc.nat(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 5 }), (tags, cut, muts) => {
        const b = mux(tags);
        expectClean(b.subarray(0, cut % (b.length + 1)));
        for (const [i, x] of muts) b[i % b.length] = x;
        expectClean(b, [5]);
      }),
      { numRuns: 300 },
    );
  });
});
