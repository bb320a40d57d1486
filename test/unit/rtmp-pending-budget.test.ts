/**
 * Memory bounds of RTMP input: the decoder holds what it received (not what a
 * header declares), counts it as allocated, and draws it from a node-wide
 * budget that evicts the biggest holder first.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RtmpChunkDecoder, RtmpChunkEncoder, RtmpChunkError } from '../../dataplane/media/index.js';
import { addressKey, AddressSlots } from '../../dataplane/media/address-slots.js';
import { PendingBudget } from '../../dataplane/media/rtmp-pending-budget.js';

/** The first `n` bytes of one encoded video message of `length` bytes on csid 6. */
function partial(length: number, n: number): Uint8Array {
  const enc = new RtmpChunkEncoder();
  enc.chunkSize = 1 << 20;
  return enc.encode({ csid: 6, type: 9, streamId: 1, timestamp: 0, payload: new Uint8Array(length) }).subarray(0, 12 + n);
}

describe('RTMP pending bytes', () => {
  test('a declared length allocates nothing; what arrives grows by doubling and is counted as allocated', () => {
    const budget = new PendingBudget(0);
    const account = budget.open(() => undefined);
    const dec = new RtmpChunkDecoder({ maxChunkSize: 1 << 20, allowance: account });
    dec.chunkSize = 1 << 20;
    dec.push(partial(1_000_000, 0), () => undefined);
    assert.equal(dec.pending, 0, 'a header alone holds nothing');
    dec.push(new Uint8Array(100), () => undefined);
    assert.equal(dec.pending, 16 * 1024);
    dec.push(new Uint8Array(20_000), () => undefined);
    assert.equal(dec.pending, 32 * 1024);
    assert.equal(budget.used, 32 * 1024);
    const got: number[] = [];
    dec.push(new Uint8Array(1_000_000 - 20_100), (m) => got.push(m.payload.length));
    assert.deepEqual(got, [1_000_000]);
    assert.equal(dec.pending, 0);
    assert.equal(budget.used, 0);
  });

  test('the per-decoder bound and the shared allowance refuse with their own codes', () => {
    const small = new RtmpChunkDecoder({ maxPendingBytes: 64 * 1024, maxChunkSize: 1 << 20 });
    small.chunkSize = 1 << 20;
    assert.throws(
      () => small.push(partial(1_000_000, 100_000), () => undefined),
      (e: unknown) => e instanceof RtmpChunkError && e.code === 'RTMP_PENDING_TOO_LARGE',
    );
    const budget = new PendingBudget(48 * 1024);
    const shared = new RtmpChunkDecoder({ allowance: budget.open(() => undefined), maxChunkSize: 1 << 20 });
    shared.chunkSize = 1 << 20;
    assert.throws(
      () => shared.push(partial(1_000_000, 100_000), () => undefined),
      (e: unknown) => e instanceof RtmpChunkError && e.code === 'RTMP_PENDING_TOTAL',
    );
  });

  test('a full budget evicts the biggest holder, never a smaller one', () => {
    const budget = new PendingBudget(100);
    const evicted: string[] = [];
    const hog = budget.open(() => evicted.push('hog'));
    const mid = budget.open(() => evicted.push('mid'));
    const small = budget.open(() => evicted.push('small'));
    assert.ok(hog.grow(60));
    assert.ok(mid.grow(30));
    assert.ok(small.grow(5));
    assert.ok(small.grow(10), 'room made by evicting the hog');
    assert.deepEqual(evicted, ['hog']);
    assert.equal(budget.used, 45);
    assert.equal(hog.grow(1), false, 'an evicted account takes nothing more');
    assert.equal(mid.grow(70), false, 'nobody holds more than mid would: mid is refused');
    assert.deepEqual(evicted, ['hog']);
    mid.close();
    small.close();
    assert.equal(budget.used, 0);
  });

  test('connections per address: IPv4 one by one, IPv6 by /64, slots come back', () => {
    assert.equal(addressKey('::ffff:10.0.0.1'), '10.0.0.1');
    assert.equal(addressKey('2001:db8:1:2:aaaa::1'), addressKey('2001:db8:1:2::ffff'));
    assert.notEqual(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:3::1'));
    const slots = new AddressSlots(2);
    const a = slots.take('10.0.0.1');
    assert.ok(a !== null && slots.take('10.0.0.1') !== null);
    assert.equal(slots.take('10.0.0.1'), null);
    assert.notEqual(slots.take('10.0.0.2'), null);
    slots.release(a);
    assert.notEqual(slots.take('::ffff:10.0.0.1'), null);
  });
});
