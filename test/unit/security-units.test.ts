/**
 * Pure parts of the safe defaults: cross-site detection, query redaction, unsafe
 * name characters.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { redactedQuery } from '../../dataplane/media/index.js';
import { hasUnsafeText } from '../../dataplane/protocol/index.js';
import { looksCrossSite } from '../../src/http/use-csrf-prevention.js';

describe('looksCrossSite', () => {
  const none = (): boolean => false;
  test('POSTs a form or simple fetch can send are cross-site; JSON, other types and the header are not', () => {
    for (const t of [null, '', 'text/plain', 'TEXT/PLAIN; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      assert.equal(looksCrossSite('POST', t, none), true, String(t));
    }
    for (const t of ['application/json', 'application/graphql-response+json', 'application/json; charset=utf-8']) assert.equal(looksCrossSite('POST', t, none), false, t);
    assert.equal(looksCrossSite('POST', 'text/plain', (h) => h === 'x-graphql-yoga-csrf'), false);
    assert.equal(looksCrossSite('GET', null, none), false);
  });
});

describe('redactedQuery', () => {
  test('replaces credential values, keeps the rest and the order', () => {
    assert.equal(redactedQuery('key=abc&vhost=x&token=t&TxSecret=s&sign=1'), 'key=…&vhost=x&token=…&TxSecret=…&sign=…');
    assert.equal(redactedQuery(''), '');
    assert.equal(redactedQuery('key'), 'key');
    assert.equal(redactedQuery('%6Bey=abc'), '%6Bey=…');
  });
  test('never keeps the value of a key parameter (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }).filter((v) => !v.includes('&')), fc.array(fc.string().filter((s) => !s.includes('&'))), (secret, rest) => {
        const q = [...rest, `key=${secret}`].join('&');
        const out = redactedQuery(q).split('&');
        assert.equal(out[out.length - 1], 'key=…');
      }),
    );
  });
});

describe('hasUnsafeText', () => {
  test('control and bidirectional formatting characters', () => {
    for (const c of ['\u0000', '\u001f', '\u007f', '\u0085', '\u061c', '\u200e', '\u200f', '\u202a', '\u202e', '\u2066', '\u2069']) assert.equal(hasUnsafeText(`a${c}b`), true, c.codePointAt(0)!.toString(16));
    for (const ok of ['edge-1', 'région', '边缘节点', 'a b']) assert.equal(hasUnsafeText(ok), false, ok);
  });
});
