import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Amf0EcmaArray, Amf0Error, decodeAmf0, encodeAmf0, type Amf0Value } from '../../dataplane/media/index.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Arbitrary AMF0 values (valid Unicode strings: lone surrogates cannot round-trip through UTF-8). */
const amf0Value = fc.letrec<{ value: Amf0Value }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.double(),
    fc.boolean(),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.constant(null),
    fc.constant(undefined),
    fc.date({ noInvalidDate: true }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), tie('value'), { maxKeys: 5, noNullPrototype: true }),
    fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), tie('value'), { maxKeys: 5, noNullPrototype: true }).map((o) => new Amf0EcmaArray(o)),
  ),
})).value;

function expectCleanDecode(bytes: Uint8Array): void {
  try {
    decodeAmf0(bytes);
  } catch (err) {
    assert.ok(err instanceof Amf0Error, `unexpected ${String(err)}`);
    assert.match(err.code, /^AMF0_/);
  }
}

describe('AMF0', () => {
  test('encodes the known wire form of a connect command', () => {
    const b = encodeAmf0('connect', 1, { app: 'live' });
    assert.equal(
      hex(b),
      '0200' + '07' + hex(Buffer.from('connect')) + '00' + '3ff0000000000000' + '03' + '0003' + hex(Buffer.from('app')) + '02' + '0004' + hex(Buffer.from('live')) + '000009',
    );
  });

  test('round-trips every supported type', () => {
    const long = 'x'.repeat(70_000);
    const values: Amf0Value[] = [
      0, -1.5, Number.MAX_VALUE, true, false, '', 'héllo', long, null, undefined, new Date(1_700_000_000_000),
      [1, 'a', null, [true]], { a: 1, nested: { b: 'c' } },
      new Amf0EcmaArray({ width: 320, height: 240, encoder: 'Lavf' }),
    ];
    const decoded = decodeAmf0(encodeAmf0(...values));
    assert.deepEqual(decoded, values);
    const longBytes = encodeAmf0(long);
    assert.equal(longBytes[0], 0x0c, 'long string marker');
  });

  test('decodes typed objects, XML documents; rejects references and AVM+', () => {
    const typed = Buffer.from('10' + '0001' + '41' + '0001' + '78' + '0101' + '000009', 'hex');
    assert.deepEqual(decodeAmf0(typed), [{ x: true }]);
    const xml = Buffer.from('0f' + '00000002' + '3c61', 'hex');
    assert.deepEqual(decodeAmf0(xml), ['<a']);
    assert.throws(() => decodeAmf0(Buffer.from('070001', 'hex')), (e: unknown) => e instanceof Amf0Error && e.code === 'AMF0_UNSUPPORTED_TYPE');
    assert.throws(() => decodeAmf0(Buffer.from('11', 'hex')), (e: unknown) => e instanceof Amf0Error);
    assert.throws(() => decodeAmf0(Buffer.from('09', 'hex')), (e: unknown) => e instanceof Amf0Error);
  });

  test('rejects deep nesting and oversized strict-array counts', () => {
    const deep = Buffer.alloc(200, 0x0a); // strict arrays nested without end
    assert.throws(() => decodeAmf0(deep), (e: unknown) => e instanceof Amf0Error);
    const nested = Buffer.concat([...Array.from({ length: 100 }, () => Buffer.from('0a00000001', 'hex')), Buffer.from('05', 'hex')]);
    assert.throws(() => decodeAmf0(nested), (e: unknown) => e instanceof Amf0Error && e.code === 'AMF0_TOO_DEEP');
    assert.throws(() => decodeAmf0(Buffer.from('0affffffff05', 'hex')), (e: unknown) => e instanceof Amf0Error && e.code === 'AMF0_TRUNCATED');
  });

  test('does not let input set a prototype', () => {
    const b = encodeAmf0(JSON.parse('{"__proto__": {"polluted": true}}') as Amf0Value);
    const [o] = decodeAmf0(b);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.ok(o && typeof o === 'object' && Object.hasOwn(o, '__proto__'));
  });

  test('property: encode → decode is the identity', () => {
    fc.assert(
      fc.property(fc.array(amf0Value, { minLength: 1, maxLength: 4 }), (values) => {
        assert.deepEqual(decodeAmf0(encodeAmf0(...values)), values);
      }),
      { numRuns: 300 },
    );
  });

  test('property: random, truncated and mutated input is rejected cleanly', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => expectCleanDecode(b)), { numRuns: 500 });
    fc.assert(
      fc.property(amf0Value, fc.nat(), (v, cut) => {
        const b = encodeAmf0(v);
        expectCleanDecode(b.subarray(0, cut % (b.length + 1)));
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(amf0Value, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (v, muts) => {
        const b = encodeAmf0(v);
        for (const [i, x] of muts) b[i % b.length] = x;
        expectCleanDecode(b);
      }),
      { numRuns: 300 },
    );
  });
});
