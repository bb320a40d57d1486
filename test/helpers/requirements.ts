/**
 * Gates for tests that need something outside Node: ffmpeg, Chromium, PostgreSQL, Redis, promtool and prometheus.
 * Without it the test is skipped with a printed reason; with
 * STREAM_CASCADE_TEST_STRICT=1 (set by .ci/run) a missing requirement fails instead.
 *
 *   import { requireFfmpeg } from '../helpers/requirements.js';
 *   const gate = requireFfmpeg();            // { skip: 'reason' } or {}
 *   describe('rtmp with ffmpeg', gate, () => { ... });
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';

export const STRICT = process.env.STREAM_CASCADE_TEST_STRICT === '1';

export interface Gate {
  skip?: string;
}

function gate(what: string, ok: boolean, reason: string): Gate {
  if (ok) return {};
  if (STRICT) {
    throw new Error(`${what} is required (STREAM_CASCADE_TEST_STRICT=1) but ${reason}`);
  }
  process.stdout.write(`# SKIP ${what}: ${reason}\n`);
  return { skip: `${what}: ${reason}` };
}

function runs(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
  return r.status === 0;
}

export const hasFfmpeg = (): boolean => runs('ffmpeg', ['-version']) && runs('ffprobe', ['-version']);

export function requireFfmpeg(): Gate {
  return gate('ffmpeg', hasFfmpeg(), 'ffmpeg/ffprobe are not installed (apt-get install ffmpeg)');
}

export function requirePromtool(): Gate {
  return gate('promtool', runs('promtool', ['--version']), 'promtool is not installed (apt-get install prometheus)');
}

export function requirePrometheus(): Gate {
  return gate('prometheus', runs('prometheus', ['--version']), 'prometheus is not installed (apt-get install prometheus)');
}

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function requireChromium(): Gate {
  return gate('chromium', existsSync(CHROMIUM_PATH), `${CHROMIUM_PATH} not found (apt-get install chromium)`);
}

/** PostgreSQL admin URL used to create a fresh database per test file. */
export const PG_ADMIN_URL = process.env.STREAM_CASCADE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

function tcpReachable(host: string, port: number, timeoutMs = 1500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export async function requirePostgres(): Promise<Gate> {
  const u = new URL(PG_ADMIN_URL);
  const ok = await tcpReachable(u.hostname, Number(u.port || 5432));
  return gate('postgresql', ok, `nothing listens at ${u.host} (start PostgreSQL or set STREAM_CASCADE_TEST_PG)`);
}

/** Redis for cluster tests (each test file uses its own key prefix). */
export const REDIS_URL = process.env.STREAM_CASCADE_TEST_REDIS ?? 'redis://127.0.0.1:6379/0';

export async function requireRedis(): Promise<Gate> {
  const u = new URL(REDIS_URL);
  const ok = await tcpReachable(u.hostname, Number(u.port || 6379));
  return gate('redis', ok, `nothing listens at ${u.host} (start it with "redis-server --daemonize yes" or set STREAM_CASCADE_TEST_REDIS)`);
}

/** The redis-server program, for tests that run a Redis of their own (to kill and restart it). */
export function requireRedisServer(): Gate {
  return gate('redis-server', runs('redis-server', ['--version']), 'redis-server is not installed (apt-get install redis-server)');
}

const ROOT = new URL('../../', import.meta.url);
export const BUILT_ADDON = new URL('build/Release/udp_batch.node', ROOT);
export const BUILT_PROGRAM = new URL('dist/src/main.js', ROOT);

/** What `npm install` builds: the compiled program (prepare) and the native UDP addon (install). */
export function requireInstallBuild(): Gate {
  return gate(
    'install build',
    existsSync(BUILT_ADDON) && existsSync(BUILT_PROGRAM),
    'dist/ or build/Release/udp_batch.node is missing (run npm install)',
  );
}
