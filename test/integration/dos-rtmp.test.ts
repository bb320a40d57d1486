/**
 * Anonymous denial of service over RTMP: a few raw TCP connections,
 * after the handshake, declare long messages on many chunk streams and send
 * them only in part. The node (a real process, so its memory can be measured)
 * must bound what they hold per connection and in total, refuse connections
 * past the per-address bound, close the attackers with a logged reason, and keep
 * an existing publish playing.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { RtmpChunkDecoder } from '../../dataplane/media/index.js';
import { publishTestStream, type Publisher } from '../helpers/ffmpeg.js';
import { startProcessNode, writeConfig, type ProcessNode } from '../helpers/process-node.js';
import { requireFfmpeg } from '../helpers/requirements.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/node.js';

const dir = tempDir('sc-dos-rtmp-');
const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

/** Resident memory of a process, bytes (Linux). */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

/** One chunk: a 1-byte basic header (csid 2..63), the type-0 message header when `header` is set, then `body`. */
function chunk(csid: number, body: Buffer, header?: { length: number; type: number; streamId: number }): Buffer {
  if (header === undefined) return Buffer.concat([Buffer.from([0xc0 | csid]), body]);
  const h = Buffer.alloc(12);
  h[0] = csid;
  h.writeUIntBE(0, 1, 3);
  h.writeUIntBE(header.length, 4, 3);
  h[7] = header.type;
  h.writeUInt32LE(header.streamId, 8);
  return Buffer.concat([h, body]);
}

const setChunkSize = (size: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(size);
  return chunk(2, b, { length: 4, type: 1, streamId: 0 });
};
const pingRequest = (): Buffer => chunk(2, Buffer.from([0, 6, 0, 0, 0, 42]), { length: 6, type: 4, streamId: 0 });

interface AttackResult {
  /** Closed by the node before the handshake answer (refused at accept). */
  refused: boolean;
  /** Closed by the node after the handshake. */
  closed: boolean;
  /** The node answered the ping sent after the payload: it holds everything that was sent. */
  answered: boolean;
  sent: number;
}

/**
 * Connects from `localAddress`, does the handshake, then sends `streams` chunk
 * streams each declaring `declared` bytes and carrying `perStream` of them, round
 * robin in 64 KiB chunks, then a ping. Resolves once the node answered the ping
 * (it read everything) or closed the connection.
 */
async function attack(port: number, localAddress: string, streams: number, declared: number, perStream: number): Promise<AttackResult> {
  const s = net.connect({ host: '127.0.0.1', port, localAddress });
  s.on('error', () => undefined);
  const closed = new Promise<true>((r) => s.once('close', () => r(true)));
  await Promise.race([once(s, 'connect').catch(() => undefined), closed]);
  const result: AttackResult = { refused: false, closed: false, answered: false, sent: 0 };
  const write = async (b: Buffer): Promise<boolean> => {
    if (s.destroyed) return false;
    result.sent += b.length;
    if (!s.write(b)) await Promise.race([once(s, 'drain').catch(() => undefined), closed]);
    return !s.destroyed;
  };
  let hs = Buffer.alloc(0);
  const handshake = new Promise<boolean>((resolve) => {
    const onData = (d: Buffer): void => {
      hs = Buffer.concat([hs, d]);
      if (hs.length < 3073) return;
      s.off('data', onData);
      resolve(true);
    };
    s.on('data', onData);
    void closed.then(() => resolve(false));
  });
  s.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(1536)]));
  if (!(await handshake)) {
    result.refused = true;
    return result;
  }
  s.write(Buffer.alloc(1536));
  const dec = new RtmpChunkDecoder();
  const pong = new Promise<boolean>((resolve) => {
    s.on('data', (d: Buffer) => {
      try {
        dec.push(d, (m) => {
          if (m.type === 4 && m.payload[1] === 7) resolve(true);
        });
      } catch {
        resolve(false);
      }
    });
    void closed.then(() => resolve(false));
  });
  await write(setChunkSize(CHUNK));
  const body = Buffer.alloc(CHUNK, 0x5a);
  for (let sent = 0; sent < perStream && !s.destroyed; sent += CHUNK) {
    for (let i = 0; i < streams && !s.destroyed; i++) {
      const csid = 4 + i;
      const piece = body.subarray(0, Math.min(CHUNK, perStream - sent));
      if (!(await write(sent === 0 ? chunk(csid, piece, { length: declared, type: 9, streamId: 1 }) : chunk(csid, piece)))) break;
    }
  }
  if (!s.destroyed) s.write(pingRequest());
  result.answered = await pong;
  result.closed = s.destroyed || (await Promise.race([closed, new Promise<false>((r) => setImmediate(() => r(false)))]));
  s.destroy();
  return result;
}

describe('RTMP: unfinished messages and connections per address are bounded', requireFfmpeg(), () => {
  let node: ProcessNode | null = null;
  let publisher: Publisher | null = null;
  after(async () => {
    await publisher?.stop();
    await node?.stop('SIGKILL');
    removeDir(dir);
  });

  test('ten connections piling up partial messages: refused past the per-address bound, closed with a reason, the node grows little, the publish plays on', async () => {
    const config = writeConfig(path.join(dir, 'node.yaml'), {
      name: 'dos-rtmp',
      datadir: path.join(dir, 'data'),
      http: { listenaddr: '127.0.0.1:0' },
      rtmp: { listenaddr: '127.0.0.1:0', maxperaddress: 8, maxpendingtotal: 32 * MiB },
      database: { url: 'pglite://memory' },
      log: { level: 'info' },
    });
    node = await startProcessNode(config);
    const n = node;
    const pid = n.child.pid as number;
    const rtmpPort = Number((await n.waitLog((l) => l.msg === 'rtmp server listening')).port);

    // An existing publish from another address, and a player of it.
    publisher = publishTestStream(`rtmp://127.0.0.1:${rtmpPort}/live/cam`, 600);
    const streams = async (): Promise<{ path: string; started_time: string }[]> =>
      ((await (await fetch(`${n.httpUrl}/api/stream/list`)).json()) as { data: { path: string; started_time: string }[] }).data;
    const started = (await waitFor(async () => (await streams()).find((s) => s.path === 'live/cam'), 60_000, 'the publish')).started_time;
    const player = await fetch(`${n.httpUrl}/live/cam.flv`);
    let played = 0;
    const reader = player.body!.getReader();
    const reading = (async () => {
      for (;;) {
        const r = await reader.read().catch(() => ({ done: true, value: undefined }));
        if (r.done) return;
        played += r.value?.length ?? 0;
      }
    })();
    await waitFor(() => played > 64 * 1024, 30_000, 'the player to receive media');
    // GraphQL loads 2 s after start: load it now so it is not counted as the attack's.
    await fetch(`${n.httpUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ node { name } }' }),
    });

    let baseline = 0;
    for (let i = 0; i < 10; i++) {
      baseline = Math.max(baseline, rssOf(pid));
      await new Promise((r) => setTimeout(r, 50));
    }
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 20);
    let results: AttackResult[];
    try {
      results = await Promise.all([
        // One declares the largest message RTMP can carry on one chunk stream.
        attack(rtmpPort, '127.0.0.2', 1, 0xffffff, 30 * MiB),
        // The others: 60 chunk streams with 4 MiB messages, 512 KiB of each sent (30 MiB a connection).
        ...Array.from({ length: 9 }, () => attack(rtmpPort, '127.0.0.2', 60, 4 * MiB, 512 * 1024)),
      ]);
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, rssOf(pid));
    const growth = peak - baseline;
    const summary = JSON.stringify(results.map((r) => ({ ...r, sent: Math.round(r.sent / MiB) })));
    // Before the bounds each accepted connection held its 30 MiB (over 300 MB for the ten).
    assert.ok(growth < 150 * MiB, `the node grew by ${Math.round(growth / MiB)} MiB under the attack; ${summary}`);
    // Ten at once against a bound of 8: two are refused, or one when the attacker declaring
    // the 16 MiB message (closed as soon as it declares it) was gone before the last connected.
    const refused = results.filter((r) => r.refused).length;
    assert.ok(refused === 2 || (refused === 1 && results[0]!.closed && !results[0]!.refused), `connections over the per-address bound of 8 are refused: ${summary}`);
    for (const r of results.filter((x) => !x.refused)) {
      assert.ok(r.closed && !r.answered, `each accepted attacker is closed before its payload is held: ${summary}`);
      assert.ok(r.sent < 31 * MiB, summary);
    }
    assert.ok(n.lines.some((l) => l.msg === 'rtmp connection refused: too many connections from this address' && l.remote === '127.0.0.2'));
    // Each accepted attacker's close is logged with its reason (the log arrives over a pipe: wait for it).
    const closeLines = (): typeof n.lines =>
      n.lines.filter((l) => l.msg === 'rtmp protocol error' || (l.msg === 'rtmp connection closed' && l.level === 40));
    await waitFor(() => closeLines().length >= 8, 10_000, 'a logged reason for each accepted attacker').catch((err: unknown) => {
      throw new Error(`${String(err)}: ${JSON.stringify(closeLines())}`);
    });
    const codes = new Set(closeLines().map((l) => String(l.code ?? 'RTMP_PENDING_EVICTED')));
    assert.ok(codes.has('RTMP_MESSAGE_TOO_LARGE'), `the declared 16 MiB message is refused at its header: ${[...codes].join(', ')}`);
    assert.ok(
      [...codes].every((c) => ['RTMP_MESSAGE_TOO_LARGE', 'RTMP_PENDING_TOO_LARGE', 'RTMP_PENDING_TOTAL', 'RTMP_PENDING_EVICTED'].includes(c)),
      [...codes].join(', '),
    );

    // The publish goes on: same stream, the player keeps receiving, the API answers.
    const before = played;
    await waitFor(() => played > before + 64 * 1024, 30_000, 'the player to keep receiving after the attack');
    assert.equal((await streams()).find((s) => s.path === 'live/cam')?.started_time, started);
    assert.equal(publisher.child.exitCode, null, `ffmpeg still publishing: ${publisher.stderr()}`);
    await reader.cancel();
    await reading;
  });
});
