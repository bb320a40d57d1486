import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { allowedBy, cidrContains, parseCidr, parseListenAddress, type Cidr } from '../../src/net-address.js';

function cidr(text: string): Cidr {
  const c = parseCidr(text);
  assert.ok(typeof c !== 'string', c as string);
  return c;
}

describe('CIDR', () => {
  test('IPv4 membership', () => {
    assert.ok(cidrContains(cidr('192.168.1.0/24'), '192.168.1.77'));
    assert.ok(!cidrContains(cidr('192.168.1.0/24'), '192.168.2.1'));
    assert.ok(cidrContains(cidr('10.0.0.0/8'), '::ffff:10.9.8.7'), 'v4-mapped v6');
    assert.ok(cidrContains(cidr('0.0.0.0/0'), '8.8.8.8'));
    assert.ok(cidrContains(cidr('127.0.0.1'), '127.0.0.1'));
    assert.ok(!cidrContains(cidr('127.0.0.1'), '127.0.0.2'));
  });
  test('IPv6 membership', () => {
    assert.ok(cidrContains(cidr('fd00::/8'), 'fd12:3456::1'));
    assert.ok(!cidrContains(cidr('fd00::/8'), 'fe80::1'));
    assert.ok(cidrContains(cidr('::1/128'), '::1'));
    assert.ok(!cidrContains(cidr('::1/128'), '127.0.0.1'));
  });
  test('invalid blocks', () => {
    for (const t of ['10.0.0.0/33', '::/129', '10.0.0/8', 'x/1', '10.0.0.0/8/1', '10.0.0.0/-1', '']) {
      assert.equal(parseCidr(t), `"${t}" is not a CIDR`);
    }
  });
  test('an empty list allows everyone', () => {
    assert.ok(allowedBy([], '1.2.3.4'));
    assert.ok(!allowedBy([cidr('10.0.0.0/8')], '1.2.3.4'));
  });
  test('property: an address is inside every prefix of itself', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), (ip, n) => cidrContains(cidr(`${ip}/${n}`), ip)),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.ipV6(), fc.integer({ min: 0, max: 128 }), (ip, n) => cidrContains(cidr(`${ip}/${n}`), ip)),
      { numRuns: 300 },
    );
  });
  test('property: parsing random text never throws', () => {
    fc.assert(fc.property(fc.string(), (s) => { parseCidr(s); parseListenAddress(s); return true; }), { numRuns: 500 });
  });
});
