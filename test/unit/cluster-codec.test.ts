import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decode, encode } from '../../src/cluster/bus-codec.js';

test('bus codec: Dates come back as Dates at any depth; other values as JSON', () => {
  const at = new Date('2026-12-01T10:00:00.123Z');
  const v = decode(encode({ kind: 'ONLINE', client: { id: 1, connectedSince: at, lastSeen: null }, list: [at] })) as {
    client: { connectedSince: Date; lastSeen: null };
    list: Date[];
  };
  assert.ok(v.client.connectedSince instanceof Date);
  assert.equal(v.client.connectedSince.getTime(), at.getTime());
  assert.ok(v.list[0] instanceof Date);
  assert.equal(v.client.lastSeen, null);
  // An object that merely has a $date key among others is left alone.
  assert.deepEqual(decode(encode({ $date: 'x', other: 1 })), { $date: 'x', other: 1 });
  fc.assert(
    fc.property(fc.jsonValue().filter((j) => !JSON.stringify(j).includes('"$date"')), (j) => {
      assert.deepEqual(decode(encode(j)), JSON.parse(JSON.stringify(j)));
    }),
    { numRuns: 200 },
  );
});
