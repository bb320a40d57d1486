import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { CloseCode, ProtocolError } from '../../dataplane/protocol/index.js';
import {
  decodeRelayError,
  decodeRequestHead,
  decodeResponseHead,
  encodeBodyFrames,
  encodeRelayEnd,
  encodeRelayError,
  encodeRequestHead,
  encodeResponseHead,
  isRelayFrameType,
  RELAY_MAX_FRAME_BYTES,
  relayFrameDecoder,
  RelayFrameType,
  type RelayRequestHead,
} from '../../dataplane/protocol/relay-frames.js';

const doc = readFileSync(fileURLToPath(new URL('../../dataplane/PROTOCOL.md', import.meta.url)), 'utf8');

function decodeAll(bytes: Uint8Array) {
  const dec = relayFrameDecoder();
  const frames = dec.push(bytes);
  dec.finish();
  return frames;
}

const head: RelayRequestHead = {
  method: 'POST',
  target: '/graphql?x=1',
  headers: [
    ['content-type', 'application/json'],
    ['set-cookie', 'a=1'],
    ['set-cookie', 'b=2'],
  ],
  caller: '2001:db8::5',
};

describe('relay frames', () => {
  test('PROTOCOL.md §11 lists exactly the relay frame types, and the frame limit', () => {
    const start = doc.indexOf('## 11. API relay');
    assert.ok(start >= 0);
    const rows = doc
      .slice(start)
      .split('\n')
      .filter((l) => /^\| `0x/.test(l))
      .map((l) => l.split('|').map((c) => c.trim().replace(/`/g, '')));
    const byName = new Map(Object.entries(RelayFrameType).map(([k, v]) => [k.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase(), v]));
    assert.equal(rows.length, byName.size);
    for (const r of rows) assert.equal(byName.get(r[2] ?? ''), Number.parseInt(r[1] ?? '', 16), `frame ${r[2]}`);
    for (const v of byName.values()) assert.ok(v >= 0x80 && v <= 0xbf);
    assert.ok(doc.includes(`\`RELAY_MAX_FRAME_BYTES\` = ${RELAY_MAX_FRAME_BYTES.toLocaleString('en').replace(/,/g, ' ')}`));
  });

  test('round trips: heads, error, bodies split at 64 KiB, ends', () => {
    assert.deepEqual(decodeRequestHead(decodeAll(encodeRequestHead(head))[0]!), head);
    const rh = { status: 404, headers: [['content-length', '3'] as [string, string]] };
    assert.deepEqual(decodeResponseHead(decodeAll(encodeResponseHead(rh))[0]!), rh);
    assert.deepEqual(decodeRelayError(decodeAll(encodeRelayError({ status: 403, message: 'no' }))[0]!), { status: 403, message: 'no' });
    const big = new Uint8Array(RELAY_MAX_FRAME_BYTES * 2 + 10).map((_, i) => i & 0xff);
    const parts = encodeBodyFrames(RelayFrameType.ResponseBody, big);
    assert.equal(parts.length, 3);
    const frames = decodeAll(Buffer.concat([...parts, encodeRelayEnd(RelayFrameType.ResponseEnd)]));
    assert.deepEqual(frames.map((f) => f.type), [0x89, 0x89, 0x89, 0x8a]);
    assert.deepEqual(Buffer.concat(frames.slice(0, 3).map((f) => f.payload)), Buffer.from(big));
    assert.equal(encodeBodyFrames(RelayFrameType.RequestBody, new Uint8Array(0)).length, 0);
  });

  test('heads with CR/LF, bad tokens, absolute or backslashed targets are malformed', () => {
    const bad: unknown[] = [
      { ...head, headers: [['x-a', 'a\r\nInjected: 1']] },
      { ...head, headers: [['bad name', 'x']] },
      { ...head, method: 'GET /x' },
      { ...head, target: 'http://169.254.169.254/' },
      { ...head, target: '/a\\b' },
      { ...head, target: '/a b' },
      { ...head, caller: '' },
      { ...head, caller: '1.2.3.4\r\nX: y' },
    ];
    for (const b of bad) {
      const frame = { type: RelayFrameType.RequestHead, payload: new TextEncoder().encode(JSON.stringify(b)) };
      assert.throws(() => decodeRequestHead(frame), (e: unknown) => e instanceof ProtocolError && e.code === CloseCode.MalformedFrame);
    }
    assert.throws(() => encodeRequestHead({ ...head, headers: [['x', 'y'.repeat(RELAY_MAX_FRAME_BYTES)]] }), RangeError);
    assert.throws(
      () => decodeRequestHead({ type: RelayFrameType.ResponseHead, payload: new Uint8Array(0) }),
      (e: unknown) => e instanceof ProtocolError && e.code === CloseCode.UnexpectedFrame,
    );
    assert.throws(() => decodeAll(Uint8Array.of(0x01, 0, 0, 0, 0)), (e: unknown) => e instanceof ProtocolError && e.code === CloseCode.UnknownFrameType);
    assert.throws(() => decodeAll(Uint8Array.of(0x89, 0, 1, 0, 1)), (e: unknown) => e instanceof ProtocolError && e.code === CloseCode.FrameTooLarge);
    assert.throws(() => decodeAll(Uint8Array.of(0x89, 0, 0, 0, 4, 1)), (e: unknown) => e instanceof ProtocolError && e.code === CloseCode.MalformedFrame);
  });

  test('property: random and mutated input only ever fails with ProtocolError', () => {
    const valid = Buffer.concat([encodeRequestHead(head), ...encodeBodyFrames(RelayFrameType.RequestBody, Buffer.from('{"q":1}')), encodeRelayEnd(RelayFrameType.RequestEnd)]);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })).map(([i, b]) => {
            const m = Uint8Array.from(valid);
            m[i] = b;
            return m;
          }),
          fc.nat(valid.length).map((n) => valid.subarray(0, n)),
        ),
        fc.integer({ min: 1, max: 64 }),
        (bytes, step) => {
          const dec = relayFrameDecoder();
          try {
            for (let i = 0; i < bytes.length; i += step) {
              for (const f of dec.push(bytes.subarray(i, i + step))) {
                assert.ok(isRelayFrameType(f.type));
                if (f.type === RelayFrameType.RequestHead) decodeRequestHead(f);
                if (f.type === RelayFrameType.ResponseHead) decodeResponseHead(f);
                if (f.type === RelayFrameType.RelayError) decodeRelayError(f);
              }
            }
            dec.finish();
          } catch (err) {
            assert.ok(err instanceof ProtocolError, String(err));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
