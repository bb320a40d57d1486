/**
 * Helpers for the transport tests: echo servers, whole-stream reads, hashes,
 * genuine client Initial packets for the robustness tests.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  type Link,
  type LinkCloseInfo,
  type LinkStream,
  type TlsIdentity,
  type Transport,
} from '../../dataplane/transport/index.js';
import type { LeanLinkListener, LeanQuicTransport } from '../../dataplane/transport/index.js';
import { native } from '../../dataplane/transport/quic-native.js';

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Reject if `p` takes longer than `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Read a stream to its end. */
export async function readAll(stream: LinkStream, maxBytes = 256 * 1024 * 1024): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const chunk = await stream.read();
    if (chunk === null) break;
    parts.push(chunk);
    total += chunk.byteLength;
    if (total > maxBytes) throw new Error('stream longer than expected');
  }
  return Buffer.concat(parts);
}

/** Echo every stream back to its opener; remembers server-side links and their close infos. */
export interface EchoServer {
  listener: LeanLinkListener;
  port: number;
  links: Link[];
  closes: Promise<LinkCloseInfo>[];
  /** Resolves with the next server-side link. */
  nextLink(): Promise<Link>;
  close(): Promise<void>;
}

export async function startEchoServer(
  transport: LeanQuicTransport,
  tls: TlsIdentity,
  extra: { maxIdleTimeoutMs?: number; keepAliveIntervalMs?: number; echo?: boolean } = {},
): Promise<EchoServer> {
  const links: Link[] = [];
  const closes: Promise<LinkCloseInfo>[] = [];
  const waiters: ((l: Link) => void)[] = [];
  const listener = await transport.listen({
    host: '127.0.0.1',
    port: 0,
    tls,
    maxIdleTimeoutMs: extra.maxIdleTimeoutMs,
    keepAliveIntervalMs: extra.keepAliveIntervalMs,
    onConnection(link) {
      links.push(link);
      closes.push(link.closed);
      if (extra.echo !== false) {
        link.onStream = (s) => {
          void (async () => {
            try {
              for (;;) {
                const c = await s.read();
                if (c === null) break;
                await s.write(c);
              }
              await s.end();
            } catch {
              // reset or closed: the test checks what it needs
            }
          })();
        };
      }
      waiters.shift()?.(link);
    },
  });
  return {
    listener,
    port: listener.address.port,
    links,
    closes,
    nextLink: () => new Promise<Link>((r) => waiters.push(r)),
    close: () => listener.close(),
  };
}

/** Send `data` on a new stream, end it, and return what comes back. */
export async function roundTrip(link: Link, data: Uint8Array): Promise<Buffer> {
  const s = await link.openStream();
  const back = readAll(s);
  await s.write(data);
  await s.end();
  return back;
}

/** A genuine QUIC client Initial datagram (padded to 1200+ bytes) for `port`, from a throwaway quiche client. */
export function makeClientInitial(serverPort: number, localPort: number, localHost = '127.0.0.1'): Buffer {
  const config = native.Config.withBoringSslCtx(true, true, null, null, null, null);
  config.setApplicationProtos(['stream-cascade/1']);
  config.setMaxIdleTimeout(1000);
  const conn = native.Connection.connect(
    'stream-cascade',
    randomBytes(16),
    { host: localHost, port: localPort },
    { host: '127.0.0.1', port: serverPort },
    config,
  );
  const buf = Buffer.alloc(1500);
  const r = conn.send(buf);
  if (r === null) throw new Error('quiche produced no Initial');
  return Buffer.from(buf.subarray(0, r[0]));
}

export type { Transport };
