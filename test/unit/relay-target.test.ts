import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseCidr, type Cidr } from '../../src/net-address.js';
import { callerAddress, endToEndHeaders, isLoopback, parseRelayUrl, relayResponseHeaders, relayTargetProblem } from '../../src/http/relay-target.js';

const cidrs = (...t: string[]): Cidr[] => t.map((x) => parseCidr(x) as Cidr);

describe('relay targets, headers and callers', () => {
  test('parseRelayUrl splits instance and target on the raw URL', () => {
    assert.deepEqual(parseRelayUrl('/api/relay/7/api/stream/list?a=1'), { instance: '7', target: '/api/stream/list?a=1' });
    assert.deepEqual(parseRelayUrl('/api/relay/7'), { instance: '7', target: '/' });
    assert.deepEqual(parseRelayUrl('/api/relay/7?x'), { instance: '7', target: '/?x' });
    assert.deepEqual(parseRelayUrl('/api/relay/1/api/relay/2/graphql'), { instance: '1', target: '/api/relay/2/graphql' });
    assert.equal(parseRelayUrl('/api/relayx/1'), null);
    assert.equal(parseRelayUrl('/api/stream/list'), null);
  });

  test('plain paths pass; traversal, absolute URLs and injection are refused', () => {
    for (const ok of ['/api/stream/list', '/graphql?query=%7B%20node%20%7D', '/api/relay/2/api/stream/list?x=%0d%0a', '/a%20b', '/'])
      assert.equal(relayTargetProblem(ok), null, ok);
    for (const bad of [
      '',
      'api/stream/list',
      '//evil.example/x',
      '/http://evil/x',
      '/api/../x',
      '/api/./x',
      '/..',
      '/api/%2e%2e/x',
      '/api/%2E./x',
      '/api/%252e%252e/x',
      '/api/%25252e%25252e/x',
      '/api%2fx',
      '/api%5cx',
      '/api\\x',
      '/api/x%0d%0aInjected:1',
      '/api/x%00',
      '/api/x\r\nA: b',
      '/api/x y',
      '/api/x#frag',
      '/api/%zz',
      '/é',
    ])
      assert.notEqual(relayTargetProblem(bad), null, JSON.stringify(bad));
  });

  test('property: an accepted target never decodes to a dot segment, backslash or control character', () => {
    const piece = fc.constantFrom('a', '/', '.', '..', '%', '2e', '2E', '2f', '5c', '25', '0d', '0a', '\\', '?', 'b');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (parts) => {
        const t = `/${parts.join('')}`;
        if (relayTargetProblem(t) !== null) return;
        const path = t.split('?')[0] ?? '';
        let d = path;
        for (let i = 0; i < 5; i++) {
          assert.ok(!d.split('/').some((s) => s === '..' || s === '.'), t);
          assert.ok(!/[\\\x00-\x1f]/.test(d), t);
          try {
            d = decodeURIComponent(d);
          } catch {
            break;
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('endToEndHeaders drops hop-by-hop, Connection-named and internal headers, keeps repeats', () => {
    const raw = [
      'Host', 'x', 'Connection', 'keep-alive, X-Secret-Hop', 'X-Secret-Hop', '1', 'Transfer-Encoding', 'chunked', 'TE', 'trailers',
      'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'X-Stream-Cascade-Relay-Token', 't', 'Authorization', 'Bearer z', 'Content-Length', '3',
    ];
    assert.deepEqual(endToEndHeaders(raw, ['authorization']), [
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
      ['Content-Length', '3'],
    ]);
  });

  test('callerAddress trusts X-Forwarded-For only from trusted proxies, rightmost untrusted hop', () => {
    const trusted = cidrs('127.0.0.1/32', '10.0.0.0/8');
    assert.equal(callerAddress('::ffff:192.0.2.1', '198.51.100.1', trusted), '192.0.2.1', 'untrusted peer: XFF ignored');
    assert.equal(callerAddress('127.0.0.1', '198.51.100.1', []), '127.0.0.1', 'no trusted proxies');
    assert.equal(callerAddress('127.0.0.1', '203.0.113.9, 198.51.100.1, 10.1.1.1', trusted), '198.51.100.1');
    assert.equal(callerAddress('127.0.0.1', '[2001:db8::5]:443', trusted), '2001:db8::5');
    assert.equal(callerAddress('127.0.0.1', '198.51.100.1:5000', trusted), '198.51.100.1');
    assert.equal(callerAddress('127.0.0.1', 'garbage, 10.2.2.2', trusted), '10.2.2.2', 'stops at an unparsable hop');
    assert.equal(callerAddress('127.0.0.1', undefined, trusted), '127.0.0.1');
    assert.equal(callerAddress('::1', '2001:db8::9', cidrs('::1/128')), '2001:db8::9');
    assert.ok(isLoopback('::ffff:127.0.0.1') && isLoopback('::1') && !isLoopback('192.0.2.1'));
  });
});

describe('relayResponseHeaders', () => {
  const from = [
    ['Content-Length', '5'],
    ['Transfer-Encoding', 'chunked'],
    ['Set-Cookie', 'a=b'],
    ['Proxy-X', '1'],
    ['X-Kept', '1'],
  ] as const;
  test('drops hop-by-hop and Proxy-* headers; Set-Cookie only when allowed', () => {
    assert.deepEqual(relayResponseHeaders(from, false), [['Content-Length', '5'], ['X-Kept', '1']]);
    assert.deepEqual(relayResponseHeaders(from, true), [['Content-Length', '5'], ['Set-Cookie', 'a=b'], ['X-Kept', '1']]);
  });
  test('keeps one plain Content-Length, drops repeated or malformed ones', () => {
    assert.deepEqual(relayResponseHeaders([['content-length', '5'], ['Content-Length', '6']], false), []);
    assert.deepEqual(relayResponseHeaders([['content-length', '5, 5']], false), []);
    assert.deepEqual(relayResponseHeaders([['content-length', '-1']], false), []);
  });
});
