import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CodecInfoError,
  createMediaTag,
  parseAudioSpecificConfig,
  parseAudioTag,
  parseVideoSequenceHeader,
  TimestampRebaser,
  videoCodecName,
} from '../../dataplane/media/index.js';

// Sequence-header tag bodies produced by ffmpeg/libx264 and its AAC encoder.
const AVC_1080 = Buffer.from('17000000000142c028ffe100196742c028da01e0089f97011000000300100000030320f1832a01000468ce0fc8', 'hex');
const AVC_240 = Buffer.from('17000000000142c00dffe100166742c00dda0507ec0440000003004000000c83c50aa801000468ce0fc8', 'hex');
const AVC_720_HIGH = Buffer.from('17000000000164001fffe1001a6764001facd9405005bb0110000003001000000303c0f183196001000668ebe3cb22c0fdf8f800', 'hex');
const AAC_48K_STEREO = Buffer.from('af00119056e500', 'hex');

function clean(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CodecInfoError, `unexpected ${String(err)}`);
  }
}

describe('codec info', () => {
  test('H.264 SPS → size and profile (cropping, high profile)', () => {
    assert.deepEqual(parseVideoSequenceHeader(AVC_1080), { codec: 'h264', width: 1920, height: 1080, profile: 'Baseline', level: 4 });
    assert.deepEqual(parseVideoSequenceHeader(AVC_240), { codec: 'h264', width: 320, height: 240, profile: 'Baseline', level: 1.3 });
    assert.deepEqual(parseVideoSequenceHeader(AVC_720_HIGH), { codec: 'h264', width: 1280, height: 720, profile: 'High', level: 3.1 });
  });

  test('AAC AudioSpecificConfig → sample rate, channels', () => {
    assert.deepEqual(parseAudioTag(AAC_48K_STEREO), { codec: 'aac', sampleRate: 48000, channels: 2, profile: 'LC' });
    assert.deepEqual(parseAudioSpecificConfig(Uint8Array.from([0x12, 0x08])), { sampleRate: 44100, channels: 1, profile: 'LC' });
    assert.equal(parseAudioTag(Uint8Array.from([0x2f, 0xff])).codec, 'mp3');
  });

  test('Enhanced RTMP FourCC and legacy codec ids are recognised', () => {
    const hevcStart = Uint8Array.from([0x90, ...Buffer.from('hvc1'), 1, 2, 3]);
    assert.equal(videoCodecName(hevcStart), 'hevc');
    assert.deepEqual(parseVideoSequenceHeader(hevcStart), { codec: 'hevc', width: 0, height: 0 });
    const av1Frame = Uint8Array.from([0x91, ...Buffer.from('av01'), 9]);
    const tag = createMediaTag('video', 0, av1Frame);
    assert.equal(videoCodecName(av1Frame), 'av1');
    assert.equal(tag.keyframe, true);
    assert.equal(tag.sequenceHeader, false);
    assert.equal(createMediaTag('video', 0, hevcStart).sequenceHeader, true);
    assert.equal(videoCodecName(Uint8Array.from([0x1c, 0])), 'hevc');
  });

  test('MediaTag flags and timestamp rebasing', () => {
    assert.equal(createMediaTag('video', 0, AVC_240).sequenceHeader, true);
    assert.equal(createMediaTag('audio', 0, AAC_48K_STEREO).sequenceHeader, true);
    const key = createMediaTag('video', 2 ** 32 + 5, Uint8Array.from([0x17, 1]));
    assert.equal(key.timestamp, 5, 'uint32');
    assert.equal(key.keyframe, true);
    assert.equal(createMediaTag('video', 0, Uint8Array.from([0x27, 1])).keyframe, false);
    const r = new TimestampRebaser();
    assert.equal(r.map(createMediaTag('video', 0xfffffff0, AVC_240)), 0);
    assert.equal(r.map(createMediaTag('video', 0xfffffff0, Uint8Array.from([0x17, 1]))), 0);
    assert.equal(r.map(createMediaTag('audio', 0xffffffe0, Uint8Array.from([0xaf, 1]))), 0, 'earlier than base clamps to 0');
    assert.equal(r.map(createMediaTag('video', 0x20, Uint8Array.from([0x27, 1]))), 0x30, 'across the 32-bit wrap');
  });

  test('property: random and mutated configs are rejected cleanly', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        clean(() => parseVideoSequenceHeader(b));
        clean(() => parseAudioTag(b));
        clean(() => parseAudioSpecificConfig(b));
        createMediaTag('video', 0, b);
        createMediaTag('audio', 0, b);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.constantFrom(AVC_1080, AVC_240, AVC_720_HIGH), fc.nat(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (src, cut, muts) => {
        const b = Uint8Array.from(src);
        clean(() => parseVideoSequenceHeader(b.subarray(0, cut % (b.length + 1))));
        for (const [i, x] of muts) b[5 + (i % (b.length - 5))] = x;
        clean(() => parseVideoSequenceHeader(b));
      }),
      { numRuns: 500 },
    );
  });
});
