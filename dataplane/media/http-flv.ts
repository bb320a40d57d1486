/**
 * HTTP-FLV and WS-FLV playback at `/APP/NAME.flv`, as request/upgrade
 * handlers for the node's own HTTP server (both return false for other URLs
 * so the caller can route them).
 *
 * Output: FLV header, an `onMetaData` script tag (the publisher's, or one
 * built from the stream info), sequence headers, the cached GOP, then live
 * tags; timestamps rebased to start near 0. Each tag's FLV bytes are built
 * once per stream and shared by every player (shared-encoding.ts); a player's
 * tags are merged over `mergeWriteMs` and written straight to its socket as
 * one HTTP chunk / one WebSocket frame, one syscall per window. Backpressure:
 * bytes not yet flushed to the socket above a high-water mark pause the pump;
 * the subscriber's bounded queue absorbs, skips or drops meanwhile. Past
 * `maxPlayers` (or the event-loop lag cap) a new player gets 503 at once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { encodeAmf0, Amf0EcmaArray } from './amf0.js';
import { encodeFlvHeader, encodeFlvTag, FlvTagType } from './flv.js';
import { TimestampRebaser, type MediaTag } from './media-tag.js';
import { httpChunkHeader, CRLF, DEFAULT_MERGE_WRITE_MS, wsBinaryFrameHeader, writeParts } from './merged-writes.js';
import { PlayerAdmission, type PlayerAdmissionOptions } from './player-admission.js';
import { sharedFlvTag } from './shared-encoding.js';
import type { StreamInfo } from './live-stream.js';
import type { StreamHub } from './stream-hub.js';
import { isValidStreamPath } from './stream-path.js';
import type { Subscriber, SubscriberOptions } from './stream-subscriber.js';
import { pumpMerged, waitDrain, type BatchSink } from './subscriber-pump.js';

/** Options of {@link createFlvHandler}. */
export interface FlvHandlerOptions extends PlayerAdmissionOptions {
  hub: StreamHub;
  logger: Logger;
  /** Queue bounds of HTTP-FLV / WS-FLV players. */
  subscriber?: SubscriberOptions;
  /** Wait for a missing stream this long when the hub has a missing-stream handler, ms. Default 5_000. */
  waitMs?: number;
  /** Bytes not yet flushed to a player's socket above which its pump pauses. Default 1 MiB. */
  wsHighWaterBytes?: number;
  /** Write merging window per player, ms (see {@link pumpMerged}); 0 = write as tags come. Default 350. */
  mergeWriteMs?: number;
}

/** Request and upgrade handlers for `/APP/NAME.flv`. */
export interface FlvHandler {
  /** Serve HTTP-FLV (GET/HEAD/OPTIONS); false when the URL is not an FLV stream path. */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean;
  /** Serve WS-FLV on an `upgrade` event; false when the URL is not an FLV stream path. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Number of players currently attached. */
  readonly players: number;
  /** End every player and refuse new ones. Idempotent. */
  close(): void;
}

const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
  'Access-Control-Allow-Headers': 'Range, Content-Type, Origin, Accept',
  'Access-Control-Max-Age': '86400',
} as const;
const NOT_FOUND_BODY = JSON.stringify({ code: 404, message: 'stream not found', data: null });
const BUSY_BODY = JSON.stringify({ code: 503, message: 'server busy', data: null });

/** The stream path of `/APP/NAME.flv[?query]`, or null. */
export function flvPathOf(url: string | undefined): string | null {
  if (url === undefined) return null;
  const q = url.indexOf('?');
  const pathname = q >= 0 ? url.slice(0, q) : url;
  if (!pathname.startsWith('/') || !pathname.endsWith('.flv')) return null;
  const path = pathname.slice(1, -4);
  return isValidStreamPath(path) ? path : null;
}

/** An onMetaData body built from stream info, for streams without metadata of their own. */
export function buildOnMetaData(info: StreamInfo | undefined): Uint8Array {
  const props: Record<string, number | boolean> = { duration: 0 };
  if (info?.video) {
    const id = info.video.codec === 'h264' ? 7 : info.video.codec === 'hevc' ? 12 : info.video.codec === 'av1' ? 13 : 0;
    if (id > 0) props.videocodecid = id;
    if (info.video.width > 0) props.width = info.video.width;
    if (info.video.height > 0) props.height = info.video.height;
    if (info.video.fps > 0) props.framerate = info.video.fps;
  }
  if (info?.audio) {
    if (info.audio.codec === 'aac') props.audiocodecid = 10;
    props.audiosamplerate = info.audio.sampleRate;
    props.stereo = info.audio.channels > 1;
  }
  return encodeAmf0('onMetaData', new Amf0EcmaArray(props));
}

/**
 * Converts subscriber tags to FLV bytes: the FLV header first, then an
 * injected onMetaData when the stream has none, then the tags with rebased
 * timestamps as shared buffers.
 */
class FlvTagWriter {
  private readonly rebaser = new TimestampRebaser();
  private started = false;
  private headerSent = false;
  /** `info` is read when the first tags are written, not when the player arrived. */
  constructor(private readonly info: () => StreamInfo | undefined) {}

  /**
   * FLV header + PreviousTagSize0. Its audio/video flags tell players (mpegts.js,
   * ffprobe) which tracks to wait for: taken from the stream's codecs as known when the
   * first tags go out and from those tags themselves, so a player that arrives while an
   * on-demand stream is still starting (one codec known, the other's header in flight)
   * is not told the stream has no video.
   */
  header(first: readonly MediaTag[]): Uint8Array {
    const info = this.info();
    const hasVideo = info?.video != null || first.some((t) => t.type === 'video');
    const hasAudio = info?.audio != null || first.some((t) => t.type === 'audio');
    const unknown = !hasVideo && !hasAudio;
    return encodeFlvHeader(hasAudio || unknown, hasVideo || unknown);
  }

  /** The parts of one framed write: `head(size)` if any, the FLV bytes of `tags` (header first on the first call), then `tail` if any. */
  framed(tags: readonly MediaTag[], head: ((size: number) => Uint8Array) | null, tail: Uint8Array | null): Uint8Array[] {
    const parts: Uint8Array[] = [CRLF]; // placeholder for the head
    let total = 0;
    if (!this.headerSent) {
      this.headerSent = true;
      const h = this.header(tags);
      parts.push(h);
      total = h.length;
    }
    total += this.tags(tags, parts);
    if (head === null) parts.shift();
    else parts[0] = head(total);
    if (tail !== null) parts.push(tail);
    return parts;
  }

  /** Append the FLV bytes of `tags` (preceded by a built onMetaData when the stream has none) to `parts`; returns their length. */
  tags(tags: readonly MediaTag[], parts: Uint8Array[]): number {
    let total = 0;
    for (const tag of tags) {
      if (!this.started) {
        this.started = true;
        if (tag.type !== 'script') {
          const meta = encodeFlvTag(FlvTagType.Script, 0, buildOnMetaData(this.info()));
          parts.push(meta);
          total += meta.length;
        }
      }
      const bytes = sharedFlvTag(tag, this.rebaser.map(tag));
      parts.push(bytes);
      total += bytes.length;
    }
    return total;
  }
}

/** Create the HTTP-FLV / WS-FLV handlers. */
export function createFlvHandler({
  hub,
  logger,
  subscriber: subscriberOpts,
  waitMs = 5_000, // 5 seconds
  wsHighWaterBytes = 1024 * 1024, // 1 MiB
  mergeWriteMs = DEFAULT_MERGE_WRITE_MS,
  maxPlayers = 0,
  maxEventLoopLagMs = 0,
}: FlvHandlerOptions): FlvHandler {
  const log = logger.child({ component: 'http-flv' });
  const admission = new PlayerAdmission({ maxPlayers, maxEventLoopLagMs });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 });
  const active = new Set<Subscriber>();
  let closed = false;

  const attach = async (path: string, protocol: string, remote: string, url: string | undefined): Promise<Subscriber | null> => {
    const q = url?.indexOf('?') ?? -1;
    const query = q >= 0 ? (url as string).slice(q + 1) : '';
    const info = query.length > 0 ? { protocol, remote, query } : { protocol, remote };
    if (closed) return null;
    const sub = hub.hasMissingStreamHandler
      ? await hub.subscribeOrWait(path, info, waitMs, subscriberOpts)
      : hub.subscribe(path, info, subscriberOpts);
    if (sub !== null) {
      active.add(sub);
      sub.once('close', () => {
        active.delete(sub);
        admission.release();
      });
    }
    return sub;
  };

  /** Null when the player may start (a slot is taken; `attach` gives it back on close), else why not. */
  const refusal = (path: string, protocol: string, remote: string): string | null => {
    const why = admission.admit();
    if (why !== null) log.warn({ streamPath: path, protocol, remote, reason: why }, 'player refused: server busy');
    return why;
  };

  const serveHttp = async (path: string, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? 0}`;
    if (refusal(path, 'http-flv', remote) !== null) {
      res.writeHead(503, { ...CORS_HEADERS, 'Content-Type': 'application/json', 'Retry-After': '5', 'Content-Length': Buffer.byteLength(BUSY_BODY), Connection: 'close' });
      res.end(req.method === 'HEAD' ? undefined : BUSY_BODY);
      return;
    }
    let sub: Subscriber | null;
    try {
      sub = await attach(path, 'http-flv', remote, req.url);
    } catch (err) {
      admission.release();
      throw err;
    }
    if (sub === null) {
      admission.release();
      res.writeHead(404, { ...CORS_HEADERS, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(NOT_FOUND_BODY) });
      res.end(req.method === 'HEAD' ? undefined : NOT_FOUND_BODY);
      return;
    }
    if (res.destroyed || req.method === 'HEAD') {
      if (!res.destroyed) {
        res.writeHead(200, { ...CORS_HEADERS, 'Content-Type': 'video/x-flv' });
        res.end();
      }
      sub.close('player disconnected');
      return;
    }
    const plog = log.child({ streamPath: path, remote, subscriber: sub.id });
    const socket = req.socket;
    socket.setNoDelay(true);
    // Headers go out now; the body is written straight to the socket, one HTTP
    // chunk per merged batch, and `res.end()` writes the last chunk. An HTTP/1.0
    // client gets the plain bytes up to the close instead.
    const chunked = req.httpVersion !== '1.0';
    const headers = { ...CORS_HEADERS, 'Content-Type': 'video/x-flv', 'Cache-Control': 'no-cache' };
    res.writeHead(200, chunked ? { ...headers, 'Transfer-Encoding': 'chunked' } : headers);
    res.flushHeaders();
    res.on('close', () => sub.close('player disconnected'));
    sub.once('close', (reason) => {
      if (reason === 'too slow' || reason === 'hub closed') res.destroy();
    });
    plog.info('http-flv play started');
    const writer = new FlvTagWriter(() => hub.get(path));
    const sink: BatchSink = {
      writeBatch: (tags) =>
        writeParts(socket, chunked ? writer.framed(tags, httpChunkHeader, CRLF) : writer.framed(tags, null, null), wsHighWaterBytes),
      drained: () => waitDrain(socket),
    };
    await pumpMerged(sub, sink, mergeWriteMs);
    if (!res.destroyed) res.end();
    plog.info({ delivered: sub.stats.deliveredTags, skips: sub.stats.skips }, 'http-flv play ended');
  };

  const serveWs = (path: string, sub: Subscriber, ws: WebSocket, socket: Socket, remote: string): Promise<void> => {
    const plog = log.child({ streamPath: path, remote, subscriber: sub.id });
    ws.on('close', () => sub.close('player disconnected'));
    ws.on('error', (err) => plog.debug({ err }, 'ws-flv socket error'));
    ws.on('message', () => undefined); // players send nothing meaningful
    sub.once('close', (reason) => {
      if (reason === 'too slow' || reason === 'hub closed') ws.terminate();
    });
    plog.info('ws-flv play started');
    const writer = new FlvTagWriter(() => hub.get(path));
    // One binary frame per merged batch, written straight to the socket (the
    // server sends unmasked frames and ws, without compression, queues
    // nothing of its own, so frames never interleave).
    const sink: BatchSink = {
      writeBatch: (tags) => ws.readyState === ws.OPEN && writeParts(socket, writer.framed(tags, wsBinaryFrameHeader, null), wsHighWaterBytes),
      drained: () => waitDrain(socket),
    };
    return pumpMerged(sub, sink, mergeWriteMs).then(() => {
      if (ws.readyState === ws.OPEN) ws.close(1000, 'stream ended');
      plog.info({ delivered: sub.stats.deliveredTags, skips: sub.stats.skips }, 'ws-flv play ended');
    });
  };

  return {
    get players() {
      return active.size;
    },

    handleRequest(req, res) {
      const path = flvPathOf(req.url);
      if (path === null) return false;
      if (req.method === 'OPTIONS') {
        res.writeHead(204, CORS_HEADERS);
        res.end();
        return true;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        const body = JSON.stringify({ code: 405, message: 'method not allowed', data: null });
        res.writeHead(405, { ...CORS_HEADERS, Allow: 'GET, HEAD, OPTIONS', 'Content-Type': 'application/json' });
        res.end(body);
        return true;
      }
      serveHttp(path, req, res).catch((err: unknown) => {
        log.error({ err, streamPath: path }, 'http-flv request failed');
        res.destroy();
      });
      return true;
    },

    handleUpgrade(req, socket, head) {
      const path = flvPathOf(req.url);
      if (path === null) return false;
      const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? 0}`;
      socket.on('error', (err) => log.debug({ err }, 'ws-flv upgrade socket error'));
      if (refusal(path, 'ws-flv', remote) !== null) {
        socket.end(
          `HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(BUSY_BODY)}\r\n` +
            `Retry-After: 5\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n${BUSY_BODY}`,
        );
        return true;
      }
      attach(path, 'ws-flv', remote, req.url)
        .then((sub) => {
          if (sub === null) {
            admission.release();
            socket.end(
              `HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(NOT_FOUND_BODY)}\r\n` +
                `Access-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n${NOT_FOUND_BODY}`,
            );
            return;
          }
          if (socket.destroyed) {
            sub.close('player disconnected');
            return;
          }
          wss.handleUpgrade(req, socket, head, (ws) => {
            serveWs(path, sub, ws, socket as Socket, remote).catch((err: unknown) => {
              log.error({ err, streamPath: path }, 'ws-flv session failed');
              ws.terminate();
            });
          });
        })
        .catch((err: unknown) => {
          log.error({ err, streamPath: path }, 'ws-flv upgrade failed');
          admission.release();
          socket.destroy();
        });
      return true;
    },

    close() {
      if (closed) return;
      closed = true;
      admission.close();
      for (const sub of [...active]) sub.close('hub closed');
      for (const client of wss.clients) client.terminate();
      wss.close();
    },
  };
}
