/**
 * Connections to the cluster's Redis. The client library is imported on first use, so
 * a node without `cluster:` never loads it. ioredis reconnects by itself (backoff up
 * to 2 s); this file turns its error storm into one warning when Redis goes away and
 * one line when it is back.
 */
import type { Redis } from 'ioredis';
import { ConfigError } from '../config.js';
import type { Logger } from '../logger.js';
import { redactPassword } from '../net-address.js';

const redactRedisUrl = (url: string): string => redactPassword(url, 'redis://(invalid url)');

/**
 * Opens one connection (`role` names it in logs: "commands", "events"). Fails with a
 * one-line ConfigError naming `cluster.redis` when Redis does not answer within `timeoutMs`.
 */
export async function connectRedis(url: string, role: string, logger: Logger, timeoutMs = 10_000): Promise<Redis> {
  const { Redis } = await import('ioredis');
  const log = logger.child({ redis: role });
  const client = new Redis(url, {
    lazyConnect: true,
    connectionName: `stream-cascade-${role}`,
    connectTimeout: 3_000,
    // Commands fail fast while Redis is away (the callers retry on their own clocks); none
    // waits to run after the reconnect, when what it was about may no longer hold.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: role !== 'commands',
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2_000),
  });
  let down = false;
  let connected = false;
  let lastError: (Error & { code?: string }) | null = null;
  client.on('error', (err: Error & { code?: string }) => {
    lastError = err;
    // Before the first connect the caller reports the failure itself.
    if (down || !connected) return;
    down = true;
    log.warn({ err: err.code ?? err.message }, 'cluster: Redis unreachable; reconnecting');
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    log.info('cluster: Redis reachable again');
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise((_r, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    client.disconnect();
    const e = lastError ?? (err as Error & { code?: string });
    throw new ConfigError(`cluster.redis: cannot connect to ${redactRedisUrl(url)} (${e.code ?? e.message})`);
  } finally {
    clearTimeout(timer);
  }
  connected = true;
  return client;
}

/** Closes a connection: QUIT when it is up, else drops it at once. */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    await Promise.race([client.quit().catch(() => undefined), new Promise((r) => setTimeout(r, 1_000).unref())]);
  }
  client.disconnect();
}
