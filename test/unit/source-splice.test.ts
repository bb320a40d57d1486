/** Joining a new source onto a stream that keeps its players: keyframe start, same codec headers dropped, monotonic timestamps. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SourceSplice } from '../../dataplane/cascade/forwarding/source-splice.js';
import { createMediaTag, type MediaTag } from '../../dataplane/media/media-tag.js';

const AVC_HEADER = new Uint8Array([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f]);
const AVC_HEADER_2 = new Uint8Array([0x17, 0, 0, 0, 0, 1, 0x4d, 0, 0x1f]);
const AAC_HEADER = new Uint8Array([0xaf, 0, 0x12, 0x10]);
const key = (ts: number): MediaTag => createMediaTag('video', ts, new Uint8Array([0x17, 1, 0, 0, 0, 9]));
const inter = (ts: number): MediaTag => createMediaTag('video', ts, new Uint8Array([0x27, 1, 0, 0, 0, 9]));
const audio = (ts: number): MediaTag => createMediaTag('audio', ts, new Uint8Array([0xaf, 1, 7]));
const vh = (ts: number, body = AVC_HEADER): MediaTag => createMediaTag('video', ts, body);
const ah = (ts: number): MediaTag => createMediaTag('audio', ts, AAC_HEADER);

test('the first source passes untouched', () => {
  const s = new SourceSplice();
  const tags = [vh(0), ah(0), key(0), audio(10), inter(40), key(80)];
  assert.deepEqual(tags.map((t, i) => s.map(t, i)), tags);
});

test('a new source: dropped up to its keyframe, same headers dropped, timestamps continue after the real gap', () => {
  const s = new SourceSplice();
  for (const [i, t] of [vh(0), ah(0), key(1_000), audio(1_010), inter(1_040)].entries()) s.map(t, 5_000 + i);
  s.resume();
  // The new source has its own clock (starts at 90 000) and the same headers; 700 ms passed.
  const out = [vh(0), ah(0), inter(89_960), audio(89_990), key(90_000), audio(90_010), inter(90_040)].map((t) => s.map(t, 5_704));
  assert.deepEqual(out.slice(0, 4), [null, null, null, null]);
  assert.equal(s.dropped, 2);
  assert.equal(out[4]!.timestamp, 1_040 + 700, 'keyframe lands the real gap after the last tag');
  assert.equal(out[5]!.timestamp, 1_750);
  assert.equal(out[6]!.timestamp, 1_780);
  assert.equal(s.resuming, false);
});

test('a new source with another codec header: the header goes out, at the last timestamp', () => {
  const s = new SourceSplice();
  s.map(vh(0), 0);
  s.map(key(500), 1);
  s.resume();
  const h = s.map(vh(0, AVC_HEADER_2), 100);
  assert.ok(h !== null && h.sequenceHeader);
  assert.equal(h.timestamp, 500);
  assert.equal(s.map(key(7), 101)!.timestamp, 600);
});

test('timestamps stay monotonic per track across any number of resumes', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ resume: fc.boolean(), base: fc.integer({ min: 0, max: 2 ** 32 - 1 }), n: fc.integer({ min: 1, max: 20 }) }), { minLength: 1, maxLength: 10 }),
      (sources) => {
        const s = new SourceSplice();
        const last = new Map<string, number>();
        let now = 0;
        for (const src of sources) {
          if (src.resume) s.resume();
          for (let i = 0; i < src.n; i++) {
            now += 20;
            const t = s.map(i % 5 === 0 ? key(src.base + i * 20) : i % 2 ? audio(src.base + i * 20) : inter(src.base + i * 20), now);
            if (t === null) continue;
            const prev = last.get(t.type);
            if (prev !== undefined) assert.ok(((t.timestamp - prev) | 0) >= 0, `${t.type} ${prev} → ${t.timestamp}`);
            last.set(t.type, t.timestamp);
          }
        }
      },
    ),
  );
});
