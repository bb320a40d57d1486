import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { RtmpHandshakeError, RtmpServerHandshake, RTMP_HANDSHAKE_SIZE } from '../../dataplane/media/index.js';
import {
  digestOffset,
  findDigestScheme,
  FMS_KEY,
  FMS_KEY_FULL,
  FP_KEY,
  imprintDigest,
  type DigestScheme,
} from '../../dataplane/media/rtmp-handshake.js';

function clientC1(digest: DigestScheme | null): Uint8Array {
  const c1 = Uint8Array.from(randomBytes(RTMP_HANDSHAKE_SIZE));
  c1.fill(0, 0, 4);
  if (digest === null) {
    c1.fill(0, 4, 8);
    return c1;
  }
  c1.set([9, 0, 124, 2], 4); // Flash 9.0.124.2, as ffmpeg sends
  imprintDigest(c1, digest, FP_KEY);
  return c1;
}

function handshake(c1: Uint8Array, split = RTMP_HANDSHAKE_SIZE + 1): { reply: Uint8Array; rest: Uint8Array } {
  const hs = new RtmpServerHandshake();
  const input = Buffer.concat([Buffer.from([3]), c1, randomBytes(RTMP_HANDSHAKE_SIZE), Buffer.from('after')]);
  const replies: Uint8Array[] = [];
  let rest: Uint8Array | undefined;
  for (let p = 0; p < input.length; p += split) {
    const step = hs.push(input.subarray(p, p + split));
    if (step.reply) replies.push(step.reply);
    if (step.done) {
      rest = Uint8Array.from(Buffer.concat([step.rest ?? new Uint8Array(0), input.subarray(p + split)]));
      break;
    }
  }
  assert.ok(rest, 'handshake completes');
  return { reply: Uint8Array.from(Buffer.concat(replies)), rest };
}

describe('RTMP handshake', () => {
  test('plain: S0 = 3, S1 version 0, S2 echoes C1; bytes after C2 are passed on', () => {
    const c1 = clientC1(null);
    for (const split of [1, 7, 1537, 5000]) {
      const { reply, rest } = handshake(c1, split);
      assert.equal(reply.length, 1 + 2 * RTMP_HANDSHAKE_SIZE);
      assert.equal(reply[0], 3);
      assert.deepEqual(reply.subarray(5, 9), new Uint8Array(4));
      assert.deepEqual(reply.subarray(1 + RTMP_HANDSHAKE_SIZE), c1);
      assert.equal(Buffer.from(rest).toString(), 'after');
    }
  });

  for (const scheme of [0, 1] as const) {
    test(`digest scheme ${scheme}: S1 carries a valid FMS digest, S2 is signed from the C1 digest`, () => {
      const c1 = clientC1(scheme);
      assert.equal(findDigestScheme(c1, FP_KEY), scheme);
      const { reply } = handshake(c1);
      const s1 = reply.subarray(1, 1 + RTMP_HANDSHAKE_SIZE);
      const s2 = reply.subarray(1 + RTMP_HANDSHAKE_SIZE);
      assert.equal(findDigestScheme(s1, FMS_KEY), scheme);
      // Client-side check of S2, as ffmpeg does it.
      const off = digestOffset(c1, scheme);
      const key = createHmac('sha256', FMS_KEY_FULL).update(c1.subarray(off, off + 32)).digest();
      const sig = createHmac('sha256', key).update(s2.subarray(0, RTMP_HANDSHAKE_SIZE - 32)).digest();
      assert.deepEqual(Uint8Array.from(sig), s2.subarray(RTMP_HANDSHAKE_SIZE - 32));
    });
  }

  test('rejects a wrong version byte with a typed error and stays failed', () => {
    const hs = new RtmpServerHandshake();
    assert.throws(() => hs.push(Uint8Array.from([6, 0, 0])), (e: unknown) => e instanceof RtmpHandshakeError && e.code === 'RTMP_HANDSHAKE_VERSION');
    assert.throws(() => hs.push(Uint8Array.from([3])), RtmpHandshakeError);
  });

  test('property: random input yields a reply, a wait, or a typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4000 }), fc.integer({ min: 1, max: 4000 }), (b, split) => {
        const hs = new RtmpServerHandshake();
        try {
          for (let p = 0; p < b.length; p += split) hs.push(b.subarray(p, p + split));
        } catch (err) {
          assert.ok(err instanceof RtmpHandshakeError, String(err));
        }
      }),
      { numRuns: 300 },
    );
  });
});
