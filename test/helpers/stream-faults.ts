/**
 * Helpers for the stream fault tests (fault-streams.test.ts): free ports to pin a
 * node process's listeners across a restart, cheap synthetic live streams (no
 * encoder: sequence-numbered FLV tags, 25 fps, keyframe every second) published
 * over RTMP or straight into a hub, an HTTP-FLV reader that records when each tag
 * arrived and how the response ended, and the REST lists of a node.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { createMediaTag, FlvDemuxer, type MediaTag } from '../../dataplane/media/index.js';
import { aacHeader, avcHeader } from '../integration/forwarding-helpers.js';
import { RawRtmpClient } from '../integration/media-helpers.js';

const handedOut = new Set<number>();

function canBind(kind: 'udp' | 'tcp', port: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (kind === 'udp') {
      const s = dgram.createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
      return;
    }
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A port that was free a moment ago, for a node process that must get the same
 * ports again after a restart. Chosen below the kernel's ephemeral range (Linux
 * default 32768-60999), so that neither a bind to port 0 nor an outgoing
 * connection takes it while the node is down, and never the same twice.
 */
export async function freePort(kind: 'udp' | 'tcp'): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (handedOut.has(port)) continue;
    if (await canBind(kind, port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free ${kind} port found in 20000-31999`);
}

export interface SyntheticFeed {
  /** Media tags written so far (headers not counted). */
  sent(): number;
  /** performance.now() when media tag `seq` was written. */
  sentAt(seq: number): number | undefined;
  stop(): void;
}

/**
 * Frame `seq` of a synthetic live stream in the format of
 * `forwarding-helpers.syntheticTag` (even seq: video, odd: audio; the seq as a
 * big-endian u32 at byte 5; a keyframe every 25 video frames), with video sizes
 * chosen for `kbps` (a keyframe is 5 inter frames; audio is 120 bytes).
 */
export function sizedTag(seq: number, kbps: number, stepMs: number): MediaTag {
  const video = seq % 2 === 0;
  const n = seq >> 1;
  const fps = 1000 / stepMs;
  const inter = Math.max(16, Math.round(((kbps * 125) / fps - 120) * (25 / 29)));
  const key = n % 25 === 0;
  const size = video ? (key ? 5 * inter : inter) : 120;
  const body = new Uint8Array(size);
  for (let i = 9; i < size; i += 61) body[i] = (seq + i) & 0xff;
  body[0] = video ? (key ? 0x17 : 0x27) : 0xaf;
  body[1] = 1;
  new DataView(body.buffer).setUint32(5, seq, false);
  return createMediaTag(video ? 'video' : 'audio', 1000 + n * stepMs, body);
}

/**
 * Writes a synthetic stream in real time: headers first, then every `1000 / fps`
 * ms one video and one audio tag ({@link sizedTag}; 500 kbit/s by default).
 * `write` returning false stops the feed.
 */
export function syntheticFeed(write: (tag: MediaTag) => boolean | void, opts: { fps?: number; kbps?: number } = {}): SyntheticFeed {
  const stepMs = Math.round(1000 / (opts.fps ?? 25));
  const kbps = opts.kbps ?? 500;
  write(avcHeader());
  write(aacHeader());
  let seq = 0;
  const times: number[] = [];
  const start = performance.now();
  const timer = setInterval(() => {
    // Catch up on late timer ticks so the media clock follows the wall clock.
    const due = Math.floor((performance.now() - start) / stepMs) + 1;
    while (seq >> 1 < due) {
      times[seq] = performance.now();
      if (write(sizedTag(seq, kbps, stepMs)) === false) return stop();
      seq++;
    }
  }, stepMs);
  const stop = (): void => clearInterval(timer);
  return { sent: () => seq, sentAt: (n) => times[n], stop };
}

export interface RtmpSynthetic extends SyntheticFeed {
  client: RawRtmpClient;
  /** Resolves when the RTMP connection closed (e.g. the node died). */
  closed: Promise<void>;
}

/** Publishes a synthetic live stream over RTMP to `127.0.0.1:port` as `app/name`. */
export async function publishSyntheticRtmp(port: number, streamPath: string, opts: { fps?: number; kbps?: number } = {}): Promise<RtmpSynthetic> {
  const [app, name] = streamPath.split('/') as [string, string];
  const client = await RawRtmpClient.connect(port);
  const sid = await client.open(app);
  client.command(sid, 'publish', 3, null, name, 'live');
  await client.until(() => client.statusCodes().includes('NetStream.Publish.Start'), 5_000, `Publish.Start of ${streamPath}`);
  const feed = syntheticFeed((tag) => {
    if (client.socket.destroyed) return false;
    client.send({ csid: tag.type === 'video' ? 6 : 4, type: tag.type === 'video' ? 9 : 8, streamId: sid, timestamp: tag.timestamp, payload: tag.data });
    return true;
  }, opts);
  // RawRtmpClient.closed rejects when the socket errors (ECONNRESET when the node is killed): closed is closed.
  const closed = client.closed.catch(() => undefined);
  void closed.then(() => feed.stop());
  return {
    ...feed,
    client,
    closed,
    stop() {
      feed.stop();
      client.close();
    },
  };
}

export interface ArrivedTag {
  type: number;
  timestamp: number;
  /** Video: keyframe; other types false. */
  keyframe: boolean;
  /** Video/audio sequence header. */
  header: boolean;
  /** performance.now() when the bytes completing it arrived. */
  at: number;
  /** Sequence number of a synthetic media tag (u32 at byte 5), null for headers and script data. */
  seq: number | null;
}

export interface FlvReader {
  status: number;
  tags: ArrivedTag[];
  /** How the response finished: 'end' (clean end of body), 'error' (reset, aborted by the server) or 'stopped' (by us). */
  ended: Promise<'end' | 'error' | 'stopped'>;
  stop(): void;
}

/** Opens an HTTP-FLV URL and demuxes it as it arrives, recording each tag's arrival time. */
export async function readFlv(url: string, connectTimeoutMs = 5_000): Promise<FlvReader> {
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(), connectTimeoutMs);
  const res = await fetch(url, { signal: ac.signal });
  clearTimeout(t);
  const tags: ArrivedTag[] = [];
  if (res.status !== 200 || !res.body) {
    await res.body?.cancel().catch(() => undefined);
    return { status: res.status, tags, ended: Promise.resolve('end'), stop: () => undefined };
  }
  const reader = res.body.getReader();
  const demux = new FlvDemuxer();
  let stopped = false;
  const ended = (async (): Promise<'end' | 'error' | 'stopped'> => {
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) return stopped ? 'stopped' : 'end';
        const at = performance.now();
        demux.push(r.value, (tag) => {
          const b0 = tag.data[0] ?? 0;
          const b1 = tag.data[1] ?? 1;
          const media = (tag.type === 9 || tag.type === 8) && b1 !== 0;
          tags.push({
            seq: media && tag.data.byteLength >= 9 ? new DataView(tag.data.buffer, tag.data.byteOffset).getUint32(5, false) : null,
            type: tag.type,
            timestamp: tag.timestamp,
            keyframe: tag.type === 9 && b0 >> 4 === 1,
            header: (tag.type === 9 || tag.type === 8) && b1 === 0,
            at,
          });
        });
      }
    } catch {
      return stopped ? 'stopped' : 'error';
    }
  })();
  return {
    status: res.status,
    tags,
    ended,
    stop() {
      stopped = true;
      ac.abort();
      reader.cancel().catch(() => undefined);
    },
  };
}

/** Media tags only (no script data, no sequence headers). */
export function mediaTags(tags: readonly ArrivedTag[]): ArrivedTag[] {
  return tags.filter((t) => (t.type === 8 || t.type === 9) && !t.header);
}

/** Largest interval between consecutive arrivals, ms (0 with fewer than two). */
export function maxGap(times: readonly number[]): number {
  let max = 0;
  for (let i = 1; i < times.length; i++) max = Math.max(max, (times[i] ?? 0) - (times[i - 1] ?? 0));
  return max;
}

export interface StreamJson {
  path: string;
  direction?: string;
  origin?: string | null;
  publisher: { protocol: string; remote: string };
}

export interface ClientJson {
  id: number;
  name: string;
  online: boolean;
}

async function getData<T>(url: string): Promise<T> {
  const r = await fetch(url, { signal: AbortSignal.timeout(3_000) });
  const j = (await r.json()) as { code: number; data: T };
  if (r.status !== 200) throw new Error(`GET ${url}: HTTP ${r.status}`);
  return j.data;
}

/** GET /api/stream/list of the node at `baseUrl`. */
export const listStreams = (baseUrl: string): Promise<StreamJson[]> => getData<StreamJson[]>(`${baseUrl}/api/stream/list`);

/** GET /api/cascade/clients of the node at `baseUrl`. */
export const listClients = (baseUrl: string): Promise<ClientJson[]> => getData<ClientJson[]>(`${baseUrl}/api/cascade/clients`);
