/**
 * Clustered upper nodes for tests: replica processes sharing one fresh PostgreSQL
 * database and one Redis key prefix (its own per test file, removed at the end).
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { startProcessNodes, writeNodeConfig, type ProcessNode } from '../helpers/process-node.js';
import { REDIS_URL } from '../helpers/requirements.js';
import { spawnTracked, stopProcess } from '../helpers/processes.js';

export interface Replica extends ProcessNode {
  name: string;
  quicPort: number;
}

/** A key prefix of its own for one test file. */
export function testPrefix(file: string): string {
  return `sc-test:${file}:${randomBytes(4).toString('hex')}`;
}

/** Deletes every key under `prefix` (only this test file's). */
export async function dropPrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    let cursor = '0';
    for (let i = 0; i < 10_000; i++) {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      if (keys.length > 0) await r.del(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    r.disconnect();
  }
}

/** The config of a node process on loopback (port 0) with the cascade server on and the API relay open to loopback callers. */
export function serverNodeConfig(tmp: string, name: string, dbUrl: string, extra: Record<string, unknown> = {}): string {
  return writeNodeConfig(tmp, name, {
    database: { url: dbUrl },
    'cascade-server': { quic: { listenaddr: '127.0.0.1:0' }, autoregister: false, relayapi: { enable: true, whitelist: ['127.0.0.0/8'] } },
    ...extra,
  });
}

/**
 * Starts replica processes (cascade server on, QUIC on a free port) named `names`,
 * with the same secret key file (replicas of one database must share it).
 */
export async function startReplicas(
  names: readonly string[],
  opts: { tmp: string; dbUrl: string; prefix: string; redisUrl?: string; leaseTtlMs?: number; extra?: Record<string, unknown> },
): Promise<Replica[]> {
  const key = randomBytes(32).toString('base64url');
  const files = names.map((name) => {
    const datadir = path.join(opts.tmp, name);
    mkdirSync(datadir, { recursive: true });
    writeFileSync(path.join(datadir, 'secret-hmac.key'), `${key}\n`, { mode: 0o600 });
    return serverNodeConfig(opts.tmp, name, opts.dbUrl, {
      cluster: { redis: opts.redisUrl ?? REDIS_URL, replica: name, prefix: opts.prefix, secret: 'cluster-test-secret-0123456789', leasettl: opts.leaseTtlMs ?? 6_000 },
      forwarding: { ondemandgrace: 1_000 },
      ...opts.extra,
    });
  });
  const procs = await startProcessNodes(files);
  return Promise.all(
    procs.map(async (p, i) => {
      const l = await p.waitLog((x) => x.msg === 'cascade server listening (QUIC)');
      const addr = String(l.address);
      return Object.assign(p, { name: names[i]!, quicPort: Number(addr.slice(addr.lastIndexOf(':') + 1)) });
    }),
  );
}

/** Reads `bytes` of an HTTP-FLV answer; returns them with whether its first video frame (after the sequence header) is a keyframe. */
export async function readFlv(url: string, bytes: number, timeoutMs = 15_000): Promise<{ got: number; firstVideoKey: boolean | null }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (res.status !== 200) throw new Error(`HTTP ${res.status} for ${url}`);
  const reader = res.body!.getReader();
  const chunks: Uint8Array[] = [];
  let got = 0;
  while (got < bytes) {
    const r = await reader.read();
    if (r.done) break;
    chunks.push(r.value);
    got += r.value.byteLength;
  }
  await reader.cancel();
  const all = Buffer.concat(chunks);
  // FLV: 9-byte header + PreviousTagSize0, then tags (11-byte header, body, 4-byte size).
  for (let at = 13; at + 11 <= all.length; ) {
    const type = all[at]!;
    const size = all.readUIntBE(at + 1, 3);
    const body = all.subarray(at + 11, at + 11 + size);
    if (type === 9 && body.length >= 2 && body[1] !== 0) return { got, firstVideoKey: body[0]! >> 4 === 1 };
    at += 11 + size + 4;
  }
  return { got, firstVideoKey: null };
}

/** A Redis server of this test's own on `port` (no persistence): to kill and restart. */
export async function startPrivateRedis(port: number): Promise<{ child: ChildProcess; stop(): Promise<void> }> {
  const child = spawnTracked('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    if (await tcpOpen(port)) return { child, stop: async () => void (await stopProcess(child, 'SIGKILL')) };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await stopProcess(child, 'SIGKILL');
  throw new Error(`redis-server on port ${port} did not start`);
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A TCP port free now on 127.0.0.1. */
export async function freeTcpPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
