/**
 * Server process of bench/fanout.ts: one media node (ours, from a given
 * dataplane/media directory so main's code can be measured in the same
 * sitting) or node-media-server. Prints `{"rtmp":PORT,"http":PORT}` once
 * listening; exits on SIGTERM.
 *
 *   tsx bench/fanout-server.ts '{"impl":"ours","mediaDir":"../dataplane/media","mergeMs":350}'
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import pino from 'pino';
import { flvOnlyServer } from '../test/integration/media-helpers.js';

interface ServerArgs {
  impl: 'ours' | 'nms';
  /** Directory of the media module to load (ours only). */
  mediaDir?: string;
  /** Write merging window, ms (ours only; ignored by code without it). */
  mergeMs?: number;
  /** Most players (ours only). */
  maxPlayers?: number;
  /** Fixed ports (node-media-server cannot bind port 0). */
  rtmpPort?: number;
  httpPort?: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as ServerArgs;

async function startOurs(): Promise<void> {
  const dir = resolve(import.meta.dirname, args.mediaDir ?? '../dataplane/media');
  const media = (await import(pathToFileURL(`${dir}/index.ts`).href)) as typeof import('../dataplane/media/index.js');
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' });
  const hub = new media.StreamHub({ logger });
  const play = { mergeWriteMs: args.mergeMs, maxPlayers: args.maxPlayers };
  // Every player of the bench comes from loopback: no per-address bound.
  const rtmp = await media.startRtmpServer({ hub, logger, host: '127.0.0.1', port: 0, maxConnections: 20_000, maxConnectionsPerAddress: 0, ...play });
  const flv = media.createFlvHandler({ hub, logger, ...play });
  const server = flvOnlyServer(flv);
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
  await once(server, 'listening');
  process.stdout.write(`${JSON.stringify({ rtmp: rtmp.address.port, http: (server.address() as AddressInfo).port })}\n`);
  process.on('SIGTERM', () => {
    flv.close();
    hub.close();
    server.closeAllConnections();
    server.close();
    void rtmp.close().then(() => process.exit(0));
  });
}

async function startNms(): Promise<void> {
  const require = createRequire(import.meta.url);
  const NodeMediaServer = require('node-media-server') as new (config: unknown) => { run(): Promise<void>; stop(): Promise<void> };
  const nmsLogger = require('node-media-server/src/core/logger.js') as { level: string };
  const nms = new NodeMediaServer({
    bind: '127.0.0.1',
    rtmp: { port: args.rtmpPort },
    http: { port: args.httpPort },
    webadmin: { enable: false },
    store: { path: resolve(process.env.NMS_DATA ?? '/tmp/nms-bench-data') },
    auth: { play: false, publish: false },
  });
  nmsLogger.level = 'error';
  await nms.run();
  await new Promise((r) => setTimeout(r, 300));
  process.stdout.write(`${JSON.stringify({ rtmp: args.rtmpPort, http: args.httpPort })}\n`);
  process.on('SIGTERM', () => {
    void nms.stop().finally(() => process.exit(0));
  });
}

(args.impl === 'nms' ? startNms() : startOurs()).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
