// Link semantics of the lean QUIC transport over real UDP on 127.0.0.1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import {
  defaultTransport,
  fingerprintOfPem,
  generateSelfSignedIdentity,
  LinkClosedError,
  LinkCloseCode,
  LinkConnectError,
  LinkStreamResetError,
  type Link,
  type LinkStream,
  type TlsIdentity,
} from '../../dataplane/transport/index.js';
import { readAll, roundTrip, sha256, sleep, startEchoServer, within, type EchoServer } from './transport-helpers.js';
import { testTransport, udpUnderTest } from './udp-under-test.js';

const transport = testTransport();
let identity: TlsIdentity;
let otherIdentity: TlsIdentity;
let server: EchoServer;

before(async () => {
  [identity, otherIdentity] = await Promise.all([
    generateSelfSignedIdentity('transport-test'),
    generateSelfSignedIdentity('someone-else'),
  ]);
  server = await startEchoServer(transport, identity);
});

after(async () => {
  await server.close();
});

async function connect(extra: { fingerprint?: string; caPem?: string } = { caPem: identity.certPem }): Promise<Link> {
  return within(transport.connect({ host: '127.0.0.1', port: server.port, ...extra }), 5_000, 'connect');
}

describe('handshake', () => {
  test('the default transport is the lean one', () => {
    assert.equal(defaultTransport.name, 'quic-lean');
  });

  test(`the listener runs on the socket under test (${udpUnderTest()})`, () => {
    assert.equal(server.listener.udp, udpUnderTest());
  });

  test('CA verification succeeds and fills peerFingerprint', async () => {
    const serverLink = server.nextLink();
    const link = await connect();
    try {
      assert.equal(link.peerFingerprint, fingerprintOfPem(identity.certPem));
      assert.equal(link.remoteAddress, '127.0.0.1');
      assert.equal(link.remotePort, server.port);
      const s = await within(serverLink, 2_000, 'server link');
      assert.equal(s.peerFingerprint, null);
      const back = await roundTrip(link, Buffer.from('hello'));
      assert.equal(back.toString(), 'hello');
      assert.ok((link.rttMs() ?? 0) >= 0);
    } finally {
      await link.close();
    }
  });

  test('a wrong CA is refused with TlsFailure', async () => {
    await assert.rejects(connect({ caPem: otherIdentity.certPem }), (err: unknown) => {
      assert.ok(err instanceof LinkConnectError);
      assert.equal(err.info.code, LinkCloseCode.TlsFailure);
      assert.match(err.message, /TLS failure/);
      return true;
    });
  });

  test('a matching pin succeeds without a CA', async () => {
    const pin = fingerprintOfPem(identity.certPem).toUpperCase().replace('SHA256:', 'sha256:');
    const link = await connect({ fingerprint: pin });
    try {
      assert.equal(link.peerFingerprint, fingerprintOfPem(identity.certPem));
      assert.equal((await roundTrip(link, Buffer.from('pinned'))).toString(), 'pinned');
    } finally {
      await link.close();
    }
  });

  test('no CA and no pin: connects and reports the fingerprint (trust on first use)', async () => {
    const link = await connect({});
    try {
      assert.equal(link.peerFingerprint, fingerprintOfPem(identity.certPem));
    } finally {
      await link.close();
    }
  });

  test('a pin mismatch rejects with expected vs actual and closes with FingerprintMismatch', async () => {
    const wrong = fingerprintOfPem(otherIdentity.certPem);
    const actual = fingerprintOfPem(identity.certPem);
    let streamsSeen = 0;
    const serverLink = server.nextLink().then((l) => {
      l.onStream = () => streamsSeen++;
      return l;
    });
    await assert.rejects(connect({ fingerprint: wrong }), (err: unknown) => {
      assert.ok(err instanceof LinkConnectError);
      assert.equal(err.info.code, LinkCloseCode.FingerprintMismatch);
      assert.ok(err.message.includes(`expected ${wrong}`), err.message);
      assert.ok(err.message.includes(`got ${actual}`), err.message);
      return true;
    });
    // The server completed its handshake too: it sees our close code, and no stream ever.
    const l = await within(serverLink, 2_000, 'server link');
    const info = await within(l.closed, 2_000, 'server close');
    assert.equal(info.code, LinkCloseCode.FingerprintMismatch);
    assert.equal(info.remote, true);
    assert.equal(streamsSeen, 0);
  });

  const hasV6Loopback = Object.values(networkInterfaces()).some((list) => list?.some((a) => a.address === '::1'));
  test('IPv6 loopback works end to end', { skip: hasV6Loopback ? false : 'no ::1 on this host' }, async () => {
    const listener = await transport.listen({
      host: '::1',
      port: 0,
      tls: identity,
      onConnection: (l) => {
        l.onStream = (st) => {
          void (async () => {
            for (let c = await st.read(); c !== null; c = await st.read()) await st.write(c);
            await st.end();
          })();
        };
      },
    });
    const link = await transport.connect({ host: '::1', port: listener.address.port, caPem: identity.certPem });
    try {
      assert.equal(link.remoteAddress, '::1');
      assert.equal((await within(roundTrip(link, Buffer.from('v6')), 2_000, 'v6 echo')).toString(), 'v6');
    } finally {
      await link.close();
      await listener.close();
    }
  });

  test('connecting to a port where nobody listens times out within connectTimeoutMs', async () => {
    const t0 = Date.now();
    await assert.rejects(
      transport.connect({ host: '127.0.0.1', port: 9, caPem: identity.certPem, connectTimeoutMs: 300 }),
      /timed out after 300 ms/,
    );
    assert.ok(Date.now() - t0 < 2_000);
  });
});

describe('streams', () => {
  test('50 concurrent streams echo 256 KiB each intact', async () => {
    const link = await connect();
    try {
      const payloads = Array.from({ length: 50 }, () => randomBytes(256 * 1024));
      const results = await within(Promise.all(payloads.map((p) => roundTrip(link, p))), 15_000, '50 streams');
      results.forEach((r, i) => assert.equal(sha256(r), sha256(payloads[i] ?? Buffer.alloc(0)), `stream ${i}`));
    } finally {
      await link.close();
    }
  });

  test('streams opened by the server reach the client; onStream set late still gets them', async () => {
    const serverLink = server.nextLink();
    const link = await connect();
    try {
      const s = await within(serverLink, 2_000, 'server link');
      const out = await s.openStream();
      await out.write(Buffer.from('from server'));
      await out.end();
      await sleep(50); // the stream arrives before the client has a handler
      const got = new Promise<LinkStream>((resolve) => {
        link.onStream = resolve;
      });
      const inbound = await within(got, 2_000, 'server-opened stream');
      assert.equal(inbound.id % 4, 1);
      assert.equal((await readAll(inbound)).toString(), 'from server');
    } finally {
      await link.close();
    }
  });

  test('half-close: the peer reads null after the last byte and can still answer', async () => {
    const link = await connect();
    try {
      const s = await link.openStream();
      await s.write(Buffer.from('abc'));
      await s.end();
      await assert.rejects(s.write(Buffer.from('x')), /after end/);
      assert.equal((await readAll(s)).toString(), 'abc');
      await within(s.closed, 2_000, 'stream closed');
    } finally {
      await link.close();
    }
  });

  test('partial writes under a small flow-control window, with backpressure on an idle reader', async () => {
    const small = testTransport({
      streamWindowBytes: 16 * 1024,
      connectionWindowBytes: 64 * 1024,
      readBufferBytes: 16 * 1024,
    });
    let serverStream: LinkStream | null = null;
    const gotStream = new Promise<LinkStream>((resolve) => {
      void small
        .listen({
          host: '127.0.0.1',
          port: 0,
          tls: identity,
          onConnection: (l) => {
            l.onStream = (s) => {
              serverStream = s;
              resolve(s);
            };
          },
        })
        .then((lst) => listenerReady(lst));
    });
    let listenerReady!: (l: Awaited<ReturnType<typeof small.listen>>) => void;
    const listenerP = new Promise<Awaited<ReturnType<typeof small.listen>>>((r) => (listenerReady = r));
    const listener = await listenerP;
    const link = await small.connect({ host: '127.0.0.1', port: listener.address.port, caPem: identity.certPem });
    try {
      const s = await link.openStream();
      const data = randomBytes(1024 * 1024);
      let written = false;
      const writeP = s.write(data).then(() => (written = true));
      const endP = s.end();
      const inbound = await within(gotStream, 2_000, 'server stream');
      await sleep(300);
      // 1 MiB cannot fit a 16 KiB stream window: the writer must still be waiting.
      assert.equal(written, false);
      const got = await within(readAll(inbound), 10_000, 'slow read');
      await within(writeP, 2_000, 'write');
      await within(endP, 2_000, 'end');
      assert.equal(got.byteLength, data.byteLength);
      assert.equal(sha256(got), sha256(data));
      assert.ok(serverStream !== null);
    } finally {
      await link.close();
      await listener.close();
    }
  });

  test('more concurrent streams than the peer allows: the extra ones wait for stream credit', async () => {
    const limited = testTransport({ maxStreams: 8 });
    const echo = await startEchoServer(limited, identity);
    const link = await limited.connect({ host: '127.0.0.1', port: echo.port, caPem: identity.certPem });
    try {
      const payloads = Array.from({ length: 40 }, (_, i) => randomBytes(1_000 + i * 100));
      const results = await within(Promise.all(payloads.map((p) => roundTrip(link, p))), 10_000, '40 streams over 8 credits');
      results.forEach((r, i) => assert.equal(sha256(r), sha256(payloads[i] ?? Buffer.alloc(0)), `stream ${i}`));
    } finally {
      await link.close();
      await echo.close();
    }
  });

  test('reset(code) is seen by the peer on read and write', async () => {
    const serverLink = server.nextLink();
    const link = await connect();
    try {
      const sl = await within(serverLink, 2_000, 'server link');
      const inboundP = new Promise<LinkStream>((resolve) => {
        sl.onStream = resolve;
      });
      const s = await link.openStream();
      await s.write(Buffer.from('some bytes'));
      const inbound = await within(inboundP, 2_000, 'inbound stream');
      const first = await inbound.read();
      assert.equal(Buffer.from(first ?? []).toString(), 'some bytes');
      const pendingRead = inbound.read();
      s.reset(7);
      s.reset(7); // idempotent
      await assert.rejects(within(pendingRead, 2_000, 'reset seen'), (err: unknown) => {
        assert.ok(err instanceof LinkStreamResetError);
        assert.equal(err.code, 7);
        return true;
      });
      await assert.rejects(inbound.write(Buffer.from('late')), LinkStreamResetError);
      await assert.rejects(s.read(), LinkStreamResetError);
      await within(inbound.closed, 2_000, 'peer stream closed');
      await within(s.closed, 2_000, 'local stream closed');
      // The link itself is unaffected.
      const nextInbound = new Promise<LinkStream>((resolve) => {
        sl.onStream = resolve;
      });
      const s2 = await link.openStream();
      await s2.write(Buffer.from('still fine'));
      await s2.end();
      const in2 = await within(nextInbound, 2_000, 'second stream');
      assert.equal((await within(readAll(in2), 2_000, 'read')).toString(), 'still fine');
    } finally {
      await link.close();
    }
  });
});

describe('close', () => {
  test('client close(code, reason) reaches the server; pending reads fail with LinkClosedError', async () => {
    const serverLink = server.nextLink();
    const link = await connect();
    const sl = await within(serverLink, 2_000, 'server link');
    const inboundP = new Promise<LinkStream>((resolve) => {
      sl.onStream = resolve;
    });
    const s = await link.openStream();
    await s.write(Buffer.from('x'));
    const inbound = await within(inboundP, 2_000, 'inbound');
    await inbound.read();
    const pending = inbound.read();
    pending.catch(() => undefined); // checked below
    const t0 = Date.now();
    await within(link.close(0x42, 'going away: maintenance'), 2_000, 'close');
    assert.ok(Date.now() - t0 < 1_500);
    assert.deepEqual(await link.closed, { code: 0x42, reason: 'going away: maintenance', remote: false });
    assert.deepEqual(await within(sl.closed, 2_000, 'server closed'), {
      code: 0x42,
      reason: 'going away: maintenance',
      remote: true,
    });
    await assert.rejects(pending, (err: unknown) => err instanceof LinkClosedError && err.info.code === 0x42);
    await assert.rejects(link.openStream(), LinkClosedError);
    await link.close(); // idempotent
  });

  test('server close(code, reason) reaches the client', async () => {
    const serverLink = server.nextLink();
    const link = await connect();
    const sl = await within(serverLink, 2_000, 'server link');
    await sl.close(9, 'kicked: duplicate connection');
    assert.deepEqual(await within(link.closed, 2_000, 'client closed'), {
      code: 9,
      reason: 'kicked: duplicate connection',
      remote: true,
    });
    await link.close();
  });

  test('listener close ends every link with a reason', async () => {
    const echo = await startEchoServer(transport, identity);
    const serverLink = echo.nextLink();
    const link = await transport.connect({ host: '127.0.0.1', port: echo.port, caPem: identity.certPem });
    await within(serverLink, 2_000, 'server link');
    await within(echo.close(), 3_000, 'listener close');
    const info = await within(link.closed, 2_000, 'client sees close');
    assert.equal(info.remote, true);
    assert.equal(info.reason, 'server shutting down');
    await link.close();
  });
});
