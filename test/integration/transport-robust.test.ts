// Robustness of the lean QUIC transport: killed peers, garbage datagrams, Initial floods.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  generateSelfSignedIdentity,
  LinkCloseCode,
  type Link,
  type TlsIdentity,
} from '../../dataplane/transport/index.js';
import { waitUntil } from '../helpers/poll.js';
import { spawnTracked } from '../helpers/processes.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { makeClientInitial, roundTrip, sleep, startEchoServer, within } from './transport-helpers.js';
import { testTransport } from './udp-under-test.js';

const FIXTURE = fileURLToPath(new URL('./transport-peer.fixture.ts', import.meta.url));
let identity: TlsIdentity;
let dir: string;

before(async () => {
  identity = await generateSelfSignedIdentity('transport-robust');
  dir = tempDir('transport-robust-');
});

after(async () => {
  removeDir(dir);
});

/** Start the fixture and wait for a line matching `re`. */
function startPeer(args: string[], re: RegExp): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  const child = spawnTracked(process.execPath, ['--import', 'tsx', FIXTURE, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return within(
    new Promise((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const m = re.exec(out);
        if (m !== null) resolve({ child, match: m });
      });
      child.once('exit', (code) => reject(new Error(`peer exited early (${code}): ${out}`)));
    }),
    15_000,
    'peer start',
  );
}

function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('a killed peer is noticed within the idle timeout (default 2.5 s)', () => {
  test('server side: a client killed with SIGKILL', async () => {
    const transport = testTransport();
    const server = await startEchoServer(transport, identity, { echo: false });
    const linkP = server.nextLink();
    const { child } = await startPeer(['client', String(server.port)], /ready/);
    try {
      const link = await within(linkP, 2_000, 'server link');
      await killAndWait(child);
      const t0 = Date.now();
      const info = await within(link.closed, 5_000, 'idle close');
      const took = Date.now() - t0;
      assert.equal(info.code, LinkCloseCode.IdleTimeout);
      assert.equal(info.remote, true);
      // 2.5 s of idle timeout, stretched by QUIC to 3 PTOs when RTT samples vary.
      assert.ok(took <= 4_000, `noticed after ${took} ms`);
    } finally {
      await killAndWait(child);
      await server.close();
    }
  });

  test('client side: a server killed with SIGKILL', async () => {
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    await writeFile(certFile, identity.certPem);
    await writeFile(keyFile, identity.keyPem);
    const { child, match } = await startPeer(['server', certFile, keyFile], /port (\d+)/);
    let link: Link | null = null;
    try {
      link = await testTransport().connect({
        host: '127.0.0.1',
        port: Number(match[1]),
        caPem: identity.certPem,
      });
      await sleep(100);
      await killAndWait(child);
      const t0 = Date.now();
      const info = await within(link.closed, 5_000, 'idle close');
      const took = Date.now() - t0;
      assert.equal(info.code, LinkCloseCode.IdleTimeout);
      // 2.5 s of idle timeout, stretched by QUIC to 3 PTOs when RTT samples vary.
      assert.ok(took <= 4_000, `noticed after ${took} ms`);
    } finally {
      await killAndWait(child);
      await link?.close();
    }
  });
});

async function udpSocket(host = '127.0.0.1'): Promise<Socket> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, host, () => resolve()));
  return sock;
}

function sendTo(sock: Socket, data: Uint8Array, port: number): Promise<void> {
  return new Promise((resolve) => sock.send(data, port, '127.0.0.1', () => resolve()));
}

describe('bad datagrams', () => {
  test('garbage and truncated datagrams are ignored; a live link keeps working', async () => {
    const transport = testTransport();
    const server = await startEchoServer(transport, identity);
    const link = await transport.connect({ host: '127.0.0.1', port: server.port, caPem: identity.certPem });
    const sock = await udpSocket();
    try {
      const initial = makeClientInitial(server.port, sock.address().port);
      const datagrams: Uint8Array[] = [
        Buffer.alloc(0),
        Buffer.from([0x00]),
        Buffer.from([0xff]),
        Buffer.alloc(1200, 0xc0),
        Buffer.alloc(1500, 0x40),
      ];
      for (let i = 0; i < 200; i++) datagrams.push(randomBytes(1 + ((i * 37) % 1500)));
      for (let i = 0; i < 100; i++) {
        // Random bytes behind a long header / short header first byte.
        const d = randomBytes(20 + ((i * 53) % 1400));
        d[0] = i % 2 === 0 ? 0xc0 | (d[0] ?? 0) : 0x40 | ((d[0] ?? 0) & 0x3f);
        datagrams.push(d);
      }
      for (const cut of [1, 5, 7, 20, 50, 600, 1199, initial.byteLength - 1]) datagrams.push(initial.subarray(0, cut));
      for (let i = 0; i < 50; i++) {
        const m = Buffer.from(initial);
        const at = 1 + ((i * 131) % (m.byteLength - 1));
        m[at] = (m[at] ?? 0) ^ 0xff; // mutated Initial: bad header, bad CID length or failed decryption
        datagrams.push(m);
      }
      for (const d of datagrams) await sendTo(sock, d, server.port);
      // Wait until the server has read them all (under load a fixed pause was sometimes too short).
      await waitUntil('the server to drop the garbage', () => server.listener.stats().droppedDatagrams >= 300, 10_000);
      const stats = server.listener.stats();
      assert.ok(stats.droppedDatagrams >= 300, `dropped ${stats.droppedDatagrams}`);
      assert.equal(stats.connections, 1);
      const payload = randomBytes(100_000);
      assert.ok((await within(roundTrip(link, payload), 5_000, 'round trip')).equals(payload));
    } finally {
      sock.close();
      await link.close();
      await server.close();
    }
  });

  test('an Initial of an unknown QUIC version gets a version negotiation packet', async () => {
    const transport = testTransport();
    const server = await startEchoServer(transport, identity);
    const sock = await udpSocket();
    try {
      const reply = new Promise<Buffer>((resolve) => sock.once('message', (m: Buffer) => resolve(m)));
      const pkt = Buffer.alloc(1200);
      pkt[0] = 0xc0; // long header, Initial
      pkt.writeUInt32BE(0x1a2a3a4a, 1); // a reserved (greasing) version quiche does not speak
      pkt[5] = 8; // DCID length
      randomBytes(8).copy(pkt, 6);
      pkt[14] = 8; // SCID length
      randomBytes(8).copy(pkt, 15);
      await sendTo(sock, pkt, server.port);
      const vn = await within(reply, 2_000, 'version negotiation');
      assert.equal((vn[0] ?? 0) & 0x80, 0x80);
      assert.equal(vn.readUInt32BE(1), 0, 'version 0 marks version negotiation');
      assert.ok(vn.subarray(6, 14).equals(pkt.subarray(15, 23)), 'DCID echoes our SCID');
      assert.equal(server.listener.stats().pendingHandshakes, 0);
    } finally {
      sock.close();
      await server.close();
    }
  });

  test('stateless retry: clients get in after a Retry; tokenless Initials create no state', async () => {
    const transport = testTransport({ statelessRetry: true });
    const server = await startEchoServer(transport, identity);
    const sock = await udpSocket();
    try {
      const link = await within(
        transport.connect({ host: '127.0.0.1', port: server.port, caPem: identity.certPem }),
        3_000,
        'connect with retry',
      );
      assert.equal((await roundTrip(link, Buffer.from('validated'))).toString(), 'validated');
      await link.close();
      const retried = new Promise<Buffer>((resolve) => sock.once('message', (m: Buffer) => resolve(m)));
      for (let i = 0; i < 20; i++) await sendTo(sock, makeClientInitial(server.port, sock.address().port), server.port);
      const first = await within(retried, 2_000, 'a Retry packet');
      assert.equal(((first[0] ?? 0) & 0xf0) >> 4, 0xf, 'long header, type Retry');
      assert.equal(server.listener.stats().pendingHandshakes, 0);
    } finally {
      sock.close();
      await server.close();
    }
  });

  test('an Initial flood from one address is capped, and other clients still get in', async () => {
    const transport = testTransport({ maxPendingHandshakesPerAddress: 8, maxPendingHandshakes: 64 });
    const server = await startEchoServer(transport, identity, { maxIdleTimeoutMs: 1_000 });
    const flooder = await udpSocket('127.0.0.2');
    try {
      const port = flooder.address().port;
      for (let i = 0; i < 300; i++) await sendTo(flooder, makeClientInitial(server.port, port, '127.0.0.2'), server.port);
      // Wait until the server has read the flood (under load that takes longer than any fixed pause).
      await waitUntil('the server to refuse the flood', () => server.listener.stats().refusedInitials >= 290, 30_000);
      const stats = server.listener.stats();
      assert.ok(stats.pendingHandshakes <= 8, `pending ${stats.pendingHandshakes}`);
      assert.ok(stats.refusedInitials >= 290, `refused ${stats.refusedInitials}`);
      const link = await within(
        transport.connect({ host: '127.0.0.1', port: server.port, caPem: identity.certPem }),
        3_000,
        'connect during flood',
      );
      assert.equal((await roundTrip(link, Buffer.from('ok'))).toString(), 'ok');
      await link.close();
      // The flood's half-open handshakes expire with the idle timeout.
      const t0 = Date.now();
      while (server.listener.stats().pendingHandshakes > 0 && Date.now() - t0 < 5_000) await sleep(100);
      assert.equal(server.listener.stats().pendingHandshakes, 0);
    } finally {
      flooder.close();
      await server.close();
    }
  });
});
