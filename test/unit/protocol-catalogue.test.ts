import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  CASCADE_ALPN,
  CLOSE_CODES,
  CloseCode,
  closeCodeInfo,
  CONTROL_MAX_FRAME_BYTES,
  ControlFrameType,
  normalizeFingerprint,
  parseStreamKind,
  ProtocolError,
  StreamKind,
} from '../../dataplane/protocol/index.js';
import { DEFAULT_BACKOFF, DEFAULT_CLIENT_TIMING, DEFAULT_SERVER_LIMITS } from '../../dataplane/cascade/index.js';

const doc = readFileSync(fileURLToPath(new URL('../../dataplane/PROTOCOL.md', import.meta.url)), 'utf8');

function tableRows(section: string): string[][] {
  const start = doc.indexOf(section);
  assert.ok(start >= 0, `section ${section} in PROTOCOL.md`);
  const rest = doc.slice(start);
  const lines = rest.split('\n');
  const rows: string[][] = [];
  let inTable = false;
  for (const line of lines.slice(1)) {
    if (line.startsWith('|')) {
      inTable = true;
      rows.push(line.split('|').slice(1, -1).map((c) => c.trim()));
    } else if (inTable) break;
  }
  return rows.slice(2); // header + separator
}

const hex = (s: string): number => Number.parseInt(s.replace(/`/g, ''), 16);
const unquote = (s: string): string => s.replace(/`/g, '');

describe('catalogue and PROTOCOL.md are in step', () => {
  test('close codes: every row matches the code, and every code has a row', () => {
    const rows = tableRows('## 6. Close codes');
    assert.equal(rows.length, CLOSE_CODES.size);
    for (const [code, name, reason, retry] of rows) {
      const info = CLOSE_CODES.get(hex(code ?? ''));
      assert.ok(info, `code ${code} in catalogue`);
      assert.equal(unquote(name ?? ''), info.name);
      // the doc may add a parenthetical note after the reason
      assert.ok((reason ?? '').startsWith(info.reason), `reason of ${info.name}: ${reason} vs ${info.reason}`);
      assert.equal(retry === '—' ? 'none' : retry, info.retry);
    }
  });

  test('control frame types', () => {
    const rows = tableRows('## 4. Control frames');
    const byName = new Map(Object.entries(ControlFrameType).map(([k, v]) => [k.toUpperCase(), v]));
    assert.equal(rows.length, byName.size);
    for (const [type, name] of rows) assert.equal(byName.get(name ?? ''), hex(type ?? ''), `frame ${name}`);
  });

  test('stream kinds', () => {
    const rows = tableRows('## 2. Streams and stream kinds').filter((r) => unquote(r[1] ?? '') !== '—');
    assert.equal(rows.length, Object.keys(StreamKind).length);
    for (const [kind, name] of rows) assert.equal(StreamKind[unquote(name ?? '') as keyof typeof StreamKind], hex(kind ?? ''));
  });

  test('constants named in the doc', () => {
    assert.ok(doc.includes(`\`${CASCADE_ALPN}\``));
    assert.ok(doc.includes(`\`CONTROL_MAX_FRAME_BYTES\` = ${CONTROL_MAX_FRAME_BYTES.toLocaleString('en').replace(/,/g, ' ')}`));
  });

  test('codes are unique, below 0x100, with non-empty reasons', () => {
    const values = Object.values(CloseCode);
    assert.equal(new Set(values).size, values.length);
    for (const v of values) {
      assert.ok(v < 0x100);
      assert.ok(closeCodeInfo(v).reason.length > 0);
    }
    assert.equal(closeCodeInfo(0x103).retry, 'slow');
    assert.equal(closeCodeInfo(0x100).retry, 'backoff');
    assert.equal(closeCodeInfo(0x9999).retry, 'backoff');
  });

  test('stream kind parsing', () => {
    assert.equal(parseStreamKind(1), StreamKind.Control);
    assert.throws(() => parseStreamKind(0), (e: unknown) => e instanceof ProtocolError && e.code === CloseCode.UnknownStreamKind);
    assert.throws(() => parseStreamKind(0x05), ProtocolError);
  });

  test('fingerprint normalisation', () => {
    const hexs = 'ab'.repeat(32);
    assert.equal(normalizeFingerprint(`sha256:${hexs}`), `sha256:${hexs}`);
    assert.equal(normalizeFingerprint(`SHA256:${hexs.toUpperCase()}`), `sha256:${hexs}`);
    assert.equal(normalizeFingerprint(`sha-256:${'AB:'.repeat(31)}AB`), `sha256:${hexs}`);
    assert.equal(normalizeFingerprint(hexs), `sha256:${hexs}`);
    assert.equal(normalizeFingerprint('sha256:abc'), null);
    assert.equal(normalizeFingerprint('sha1:' + hexs), null);
  });

  test('session defaults named in the doc', () => {
    const flat = doc.replace(/\s+/g, ' ');
    const n = (v: number): string => v.toLocaleString('en').replace(/,/g, ' ');
    const mentions: Array<[string, number]> = [
      ['helloTimeoutMs', DEFAULT_SERVER_LIMITS.helloTimeoutMs],
      ['heartbeatIntervalMs', DEFAULT_SERVER_LIMITS.heartbeatIntervalMs],
      ['heartbeatTimeoutMs', DEFAULT_SERVER_LIMITS.heartbeatTimeoutMs],
      ['authFailureWindowMs', DEFAULT_SERVER_LIMITS.authFailureWindowMs],
      ['welcomeTimeoutMs', DEFAULT_CLIENT_TIMING.welcomeTimeoutMs],
      ['rejectedRetryMs', DEFAULT_CLIENT_TIMING.rejectedRetryMs],
    ];
    for (const [name, v] of mentions) {
      assert.ok(new RegExp(`\`${name}\`,? \\(?default ${n(v)}`).test(flat), `${name} default ${n(v)} in PROTOCOL.md`);
    }
    assert.ok(flat.includes(`\`authFailureLimit\` (default ${DEFAULT_SERVER_LIMITS.authFailureLimit})`));
    assert.ok(flat.includes(`(server default ${DEFAULT_SERVER_LIMITS.maxStreamsPerLink})`));
    assert.ok(flat.includes(`server default ${DEFAULT_SERVER_LIMITS.maxIdleTimeoutMs / 1000} s, keep-alive every ${DEFAULT_SERVER_LIMITS.keepAliveIntervalMs / 1000} s`));
    assert.ok(flat.includes(`\`min(${DEFAULT_BACKOFF.maxMs / 1000} s, ${DEFAULT_BACKOFF.initialMs / 1000} s · 2^(n−1))\``));
    assert.ok(flat.includes(`[${1 - DEFAULT_BACKOFF.jitter}, 1.0]`));
    assert.equal(DEFAULT_CLIENT_TIMING.backoffInitialMs, DEFAULT_BACKOFF.initialMs);
    assert.equal(DEFAULT_CLIENT_TIMING.backoffMaxMs, DEFAULT_BACKOFF.maxMs);
    assert.equal(DEFAULT_CLIENT_TIMING.backoffJitter, DEFAULT_BACKOFF.jitter);
  });
});
