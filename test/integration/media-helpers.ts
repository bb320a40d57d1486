/**
 * Helpers for the media integration tests: a media node (hub + RTMP server +
 * node:http server with the FLV handler) on 127.0.0.1 port 0, and bounded
 * child-process runs of ffmpeg/ffprobe.
 */
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import pino from 'pino';
import { spawnTracked, stopProcess } from '../helpers/processes.js';
import {
  StreamHub,
  amf0Props,
  createFlvHandler,
  decodeAmf0,
  encodeAmf0,
  RtmpChunkDecoder,
  RtmpChunkEncoder,
  startRtmpServer,
  type Amf0Value,
  type FlvHandler,
  type RtmpMessage,
  type RtmpServer,
  type SubscriberOptions,
} from '../../dataplane/media/index.js';

export const logger = pino({ level: process.env.MEDIA_TEST_LOG ?? 'silent' });

export interface MediaNode {
  hub: StreamHub;
  rtmp: RtmpServer;
  flv: FlvHandler;
  http: http.Server;
  rtmpUrl(path: string): string;
  httpUrl(path: string): string;
  wsUrl(path: string): string;
  close(): Promise<void>;
}

/** An HTTP server that serves HTTP-FLV and WS-FLV from `flv` and nothing else (404; other upgrades are dropped). */
export function flvOnlyServer(flv: Pick<FlvHandler, 'handleRequest' | 'handleUpgrade'>): http.Server {
  const server = http.createServer((req, res) => {
    if (!flv.handleRequest(req, res)) {
      res.writeHead(404);
      res.end();
    }
  });
  server.on('upgrade', (req, socket, head) => {
    if (!flv.handleUpgrade(req, socket, head)) socket.destroy();
  });
  return server;
}

export async function startMediaNode(opts: {
  subscriber?: SubscriberOptions;
  handshakeTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** Most players, per protocol family (HTTP-FLV + WS-FLV, RTMP). */
  maxPlayers?: number;
} = {}): Promise<MediaNode> {
  const hub = new StreamHub({ logger, subscriber: opts.subscriber ?? {} });
  const rtmp = await startRtmpServer({
    hub,
    logger,
    host: '127.0.0.1',
    port: 0,
    handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 5_000,
    idleTimeoutMs: opts.idleTimeoutMs ?? 10_000,
    maxPlayers: opts.maxPlayers ?? 0,
  });
  const flv = createFlvHandler({ hub, logger, subscriber: opts.subscriber ?? {}, maxPlayers: opts.maxPlayers ?? 0 });
  const server = flvOnlyServer(flv);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    hub,
    rtmp,
    flv,
    http: server,
    rtmpUrl: (p) => `rtmp://127.0.0.1:${rtmp.address.port}/${p}`,
    httpUrl: (p) => `http://127.0.0.1:${port}/${p}.flv`,
    wsUrl: (p) => `ws://127.0.0.1:${port}/${p}.flv`,
    async close() {
      flv.close();
      hub.close();
      await rtmp.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

const children = new Set<ChildProcess>();

/** Run a command, killing it after `timeoutMs`. */
export function run(cmd: string, args: string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawnTracked(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      void stopProcess(child, 'SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

/** Start a long-running child (a publisher); stop it with {@link killAll} or `.kill()`. */
export function start(cmd: string, args: string[]): ChildProcess {
  const child = spawnTracked(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  child.stderr?.resume();
  child.on('close', () => children.delete(child));
  return child;
}

/** Kill every child started by these helpers and wait for them to exit. */
export async function killAll(): Promise<void> {
  const waits = [...children].map((c) => {
    const closed = c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : once(c, 'close').then(() => undefined);
    void stopProcess(c, 'SIGKILL');
    return closed;
  });
  await Promise.all(waits);
}

/** ffmpeg args publishing the generated test stream to an RTMP URL for `seconds`. */
export function publishArgs(url: string, seconds: number): string[] {
  return [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25',
    '-f', 'lavfi', '-i', 'sine=frequency=1000:sample_rate=44100',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '50',
    '-c:a', 'aac', '-t', String(seconds), '-f', 'flv', url,
  ];
}

export interface ProbeStream {
  codec_type: string;
  codec_name: string;
  nb_read_frames?: string;
}

/** ffprobe `-count_frames` over the first `seconds` of a URL or file. */
export async function probeCount(input: string, seconds: number | null, timeoutMs = 15_000): Promise<ProbeStream[]> {
  const args = ['-v', 'error', '-count_frames'];
  if (seconds !== null) args.push('-read_intervals', `%+${seconds}`);
  args.push('-show_entries', 'stream=codec_type,codec_name,nb_read_frames', '-of', 'json', input);
  const r = await run('ffprobe', args, timeoutMs);
  if (r.code !== 0) throw new Error(`ffprobe ${input} failed (${r.code}, timedOut=${r.timedOut}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as { streams: ProbeStream[] }).streams;
}

/** The first decoded video frame of a URL or file. */
export async function probeFirstVideoFrame(input: string, timeoutMs = 15_000): Promise<{ key_frame: number; pict_type: string }> {
  const r = await run(
    'ffprobe',
    ['-v', 'error', '-show_frames', '-select_streams', 'v', '-read_intervals', '%+#1', '-show_entries', 'frame=key_frame,pict_type', '-of', 'json', input],
    timeoutMs,
  );
  if (r.code !== 0) throw new Error(`ffprobe ${input} failed (${r.code}): ${r.stderr}`);
  const frames = (JSON.parse(r.stdout) as { frames: Array<{ key_frame: number; pict_type: string }> }).frames;
  const first = frames[0];
  if (first === undefined) throw new Error(`no video frame in ${input}`);
  return first;
}

/** Poll `check` every 50 ms until it returns true or `timeoutMs` passes. */
export async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A minimal in-process RTMP client (plain handshake) for protocol-level tests without ffmpeg. */
export class RawRtmpClient {
  readonly messages: RtmpMessage[] = [];
  private readonly enc = new RtmpChunkEncoder();
  private readonly dec = new RtmpChunkDecoder();
  private wake: (() => void) | null = null;
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    this.closed = once(socket, 'close').then(() => undefined);
    socket.on('error', () => undefined);
  }

  static async connect(port: number): Promise<RawRtmpClient> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const c = new RawRtmpClient(socket);
    socket.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(1536)]));
    let hs = Buffer.alloc(0);
    await new Promise<void>((resolve) => {
      const onData = (d: Buffer): void => {
        hs = Buffer.concat([hs, d]);
        if (hs.length < 1 + 2 * 1536) return;
        socket.off('data', onData);
        socket.write(Buffer.alloc(1536));
        socket.on('data', (more: Buffer) => c.onData(more));
        if (hs.length > 3073) c.onData(hs.subarray(3073));
        resolve();
      };
      socket.on('data', onData);
    });
    return c;
  }

  private onData(d: Uint8Array): void {
    this.dec.push(d, (m) => this.messages.push(m));
    this.wake?.();
  }

  send(msg: RtmpMessage): void {
    this.socket.write(this.enc.encode(msg));
  }

  command(streamId: number, ...values: Amf0Value[]): void {
    this.send({ csid: 3, type: 20, streamId, timestamp: 0, payload: encodeAmf0(...values) });
  }

  /** Commands received so far, decoded. */
  commands(): Amf0Value[][] {
    return this.messages.filter((m) => m.type === 20).map((m) => decodeAmf0(m.payload));
  }

  /** onStatus codes received so far. */
  statusCodes(): string[] {
    return this.commands()
      .filter((c) => c[0] === 'onStatus')
      .map((c) => String(amf0Props(c[3] ?? null)?.code));
  }

  /** Wait until `check()` holds, re-checking on every received chunk. */
  async until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.statusCodes())}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 100));
        this.wake = () => {
          clearTimeout(t);
          this.wake = null;
          resolve();
        };
      });
    }
  }

  /** connect + createStream; returns the stream id. */
  async open(app: string): Promise<number> {
    this.command(0, 'connect', 1, { app, tcUrl: `rtmp://127.0.0.1/${app}`, objectEncoding: 0 });
    this.command(0, 'createStream', 2, null);
    await this.until(() => this.commands().some((c) => c[0] === '_result' && c[1] === 2), 5_000, 'createStream result');
    const r = this.commands().find((c) => c[0] === '_result' && c[1] === 2) as Amf0Value[];
    return Number(r[3]);
  }

  close(): void {
    this.socket.destroy();
  }
}
