/**
 * For fault and hostile-input tests: a node whose pino output (at `debug` by
 * default) is captured in memory, and one-shot cascade link attempts made
 * with the real UpperLink over the default transport.
 */
import { pino } from 'pino';
import { UpperLink, type UpperLinkStatus, type UpperLinkTiming } from '../../dataplane/cascade/index.js';
import { defaultTransport } from '../../dataplane/transport/index.js';
import type { LogLevel } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { launchApp, type TestNode } from './node.js';

export interface CapturedNode extends TestNode {
  /** Every log line so far, parsed. */
  readonly logs: Record<string, unknown>[];
  /** Every log line so far, raw. */
  logText(): string;
}

/** Like startNode, but the node's log lines are kept (not printed) at `level`. */
export async function startCapturedNode(
  config: Record<string, unknown> = {},
  dbUrl = 'pglite://memory',
  level: LogLevel = 'debug',
): Promise<CapturedNode> {
  const merged = {
    name: 'test-node',
    http: { listenaddr: '127.0.0.1:0' },
    rtmp: { listenaddr: '127.0.0.1:0' },
    database: { url: dbUrl },
    ...config,
    log: { level },
  };
  const raw: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const destination = {
    write(line: string): void {
      raw.push(line);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not JSON: kept in raw only
      }
    },
  };
  const node = await launchApp(merged, 'sc-cap-', (lvl, name) => createLogger(lvl, name, destination));
  return { ...node, logs, logText: () => raw.join('') };
}

const silent = pino({ level: 'silent' });

/** A light cascade client (no node around it). */
export function lightClient(
  server: { host: string; port: number },
  fingerprint: string,
  secret: string | null,
  name: string,
  timing: Partial<UpperLinkTiming> = {},
): UpperLink {
  return new UpperLink({
    transport: defaultTransport,
    server,
    secret,
    name,
    version: 'test',
    verify: { fingerprint },
    logger: silent,
    timing,
  });
}

/** Waits for a client state matching `pred`; bounded. */
export function waitState(
  client: UpperLink,
  pred: (s: UpperLinkStatus) => boolean,
  timeoutMs = 30_000,
): Promise<UpperLinkStatus> {
  const now = client.status();
  if (pred(now)) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      off();
      reject(new Error(`cascade client did not reach the state within ${timeoutMs} ms (now ${JSON.stringify(client.status())})`));
    }, timeoutMs);
    const off = client.on('stateChanged', (s) => {
      if (!pred(s)) return;
      clearTimeout(t);
      off();
      resolve(s);
    });
  });
}

/** One link attempt: start a client, wait for its first outcome (online, rejected, backoff), stop it. */
export async function attemptOnce(
  server: { host: string; port: number },
  fingerprint: string,
  secret: string | null,
  name: string,
): Promise<UpperLinkStatus> {
  const c = lightClient(server, fingerprint, secret, name);
  c.start();
  try {
    return await waitState(c, (s) => s.state === 'online' || s.state === 'rejected' || s.state === 'backoff');
  } finally {
    await c.stop();
  }
}
