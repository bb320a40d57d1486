/**
 * Cascade trees for the forwarding tests: in-process nodes on loopback, and
 * synthetic FLV tags carrying a sequence number (for hash/order checks).
 */
import { createHash } from 'node:crypto';
import { after } from 'node:test';
import { createMediaTag, type MediaTag } from '../../dataplane/media/index.js';
import { startNode, waitFor, type TestNode } from '../helpers/node.js';

/**
 * What a test file starts, stopped after all its tests: `cleanups` first (players,
 * sources), then the kept nodes, each in reverse order. Call once at the file's top.
 */
export function stopAfterAll(): { keep<T extends TestNode>(n: T): T; cleanups: (() => unknown)[] } {
  const nodes: TestNode[] = [];
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
    for (const n of nodes.reverse()) await n.stop().catch(() => {});
  });
  return {
    keep(n) {
      nodes.push(n);
      return n;
    },
    cleanups,
  };
}

export async function startHq(name = 'hq', extra: Record<string, unknown> = {}): Promise<TestNode> {
  return startNode({ name, 'cascade-server': { quic: { listenaddr: '127.0.0.1:0' } }, ...extra });
}

/** A node linked to `upper`; `server: true` makes it a region (server and client). */
export async function startLower(
  upper: TestNode,
  name: string,
  cc: Record<string, unknown> = {},
  opts: { server?: boolean; extra?: Record<string, unknown> } = {},
): Promise<TestNode> {
  const port = upper.app.addresses.quic!.port;
  const n = await startNode({
    name,
    ...(opts.server ? { 'cascade-server': { quic: { listenaddr: '127.0.0.1:0' } } } : {}),
    'cascade-client': { server: `127.0.0.1:${port}`, ...cc },
    ...(opts.extra ?? {}),
  });
  await waitOnline(n);
  return n;
}

export async function waitOnline(n: TestNode, timeoutMs = 30_000): Promise<void> {
  await waitFor(() => n.app.services.cascade.upstream()?.state === 'online', timeoutMs, `${n.app.config.name} online`);
}

export function rtmpUrl(n: TestNode, path: string): string {
  return `rtmp://127.0.0.1:${n.app.addresses.rtmp.port}/${path}`;
}

export function flvUrl(n: TestNode, path: string): string {
  return `${n.url}/${path}.flv`;
}

/** AVC sequence header (minimal, SPS/PPS of a 320x240 stream is not needed by the hub). */
export function avcHeader(): MediaTag {
  return createMediaTag('video', 0, Uint8Array.from([0x17, 0, 0, 0, 0, 1, 0x42, 0, 0x1e, 0xff, 0xe0, 0, 0, 1, 0, 0]));
}

export function aacHeader(): MediaTag {
  return createMediaTag('audio', 0, Uint8Array.from([0xaf, 0, 0x12, 0x10]));
}

/** Frame `seq` of a synthetic stream: keyframe every `gop`, an audio frame after every video frame. */
export function syntheticTag(seq: number, gop = 25, stepMs = 40): MediaTag {
  const video = seq % 2 === 0;
  const n = seq >> 1;
  const size = video ? (n % gop === 0 ? 3000 : 600) : 120;
  const body = new Uint8Array(size);
  for (let i = 0; i < size; i++) body[i] = (seq * 31 + i * 7) & 0xff;
  if (video) {
    body[0] = n % gop === 0 ? 0x17 : 0x27;
    body[1] = 1;
  } else {
    body[0] = 0xaf;
    body[1] = 1;
  }
  new DataView(body.buffer).setUint32(5, seq, false);
  return createMediaTag(video ? 'video' : 'audio', 1000 + n * stepMs, body);
}

/**
 * Writes numbered synthetic tags (GOP 25, 4 ms of media each, so a run stays within every
 * queue bound even when the loop runs far ahead of a link) to `pub`, keeping each one.
 */
export function syntheticWriter(pub: { write(tag: MediaTag): void }): { sent: MediaTag[]; write(n: number): void } {
  const sent: MediaTag[] = [];
  let seq = 0;
  return {
    sent,
    write(n) {
      for (let i = 0; i < n; i++) {
        const t = syntheticTag(seq++, 25, 4);
        sent.push(t);
        pub.write(t);
      }
    },
  };
}

/** Sequence number of a synthetic tag (null for headers/metadata). */
export function seqOf(tag: MediaTag): number | null {
  if (tag.sequenceHeader || tag.type === 'script' || tag.data.byteLength < 9) return null;
  return new DataView(tag.data.buffer, tag.data.byteOffset).getUint32(5, false);
}

export function hashOf(tag: MediaTag): string {
  return createHash('sha256').update(tag.type).update(String(tag.timestamp)).update(tag.data).digest('hex');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A synthetic live stream: headers, then a tag every `intervalMs` (keyframe every 25 video frames). */
export function liveSynthetic(n: TestNode, path: string, intervalMs = 20): { stop(): void; written(): number } {
  const pub = n.app.hub.publish(path, { protocol: 'test', remote: 'synthetic' });
  pub.write(avcHeader());
  pub.write(aacHeader());
  let seq = 0;
  const timer = setInterval(() => {
    pub.write(syntheticTag(seq++));
    pub.write(syntheticTag(seq++));
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      pub.close('stopped');
    },
    written: () => seq,
  };
}

/** Reads an HTTP-FLV URL until `bytes` arrived (or throws); returns the byte count and a stop function. */
export async function playFlv(url: string, bytes = 20_000, timeoutMs = 10_000): Promise<{ got: number; stop(): void }> {
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(), timeoutMs);
  const res = await fetch(url, { signal: ac.signal });
  if (res.status !== 200) {
    clearTimeout(t);
    throw new Error(`HTTP ${res.status} for ${url}`);
  }
  const reader = res.body!.getReader();
  let got = 0;
  while (got < bytes) {
    const r = await reader.read();
    if (r.done) break;
    got += r.value.byteLength;
  }
  clearTimeout(t);
  return {
    got,
    stop() {
      ac.abort();
      reader.cancel().catch(() => {});
    },
  };
}
