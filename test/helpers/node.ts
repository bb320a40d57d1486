/**
 * Real nodes for integration tests: built in-process from a config object,
 * every listener on 127.0.0.1 port 0.
 */
import { print, type ExecutionResult } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { buildApp, type App } from '../../src/app.js';
import { configFromObject, type Config } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { trackTeardown } from './processes.js';
import { removeDir, tempDir } from './tmp.js';

export interface TestNode {
  app: App;
  url: string;
  datadir: string;
  stop(): Promise<void>;
}

const LOG_LEVEL = (process.env.TEST_LOG_LEVEL ?? 'silent') as 'silent';

/**
 * Builds and starts an app from `config` with a fresh datadir under the run's temp
 * folder. Tracked until stopped: the end of the test file stops it if the test did
 * not; a failed start removes the datadir before throwing.
 */
export async function launchApp(
  config: Record<string, unknown>,
  prefix: string,
  logger: (level: Config['log']['level'], name: string) => Logger,
): Promise<TestNode> {
  const datadir = tempDir(prefix);
  let app: App;
  try {
    const cfg = configFromObject({ datadir, ...config }, 'test.yaml');
    app = buildApp(cfg, { logger: logger(cfg.log.level, cfg.name) });
    await app.start();
  } catch (err) {
    removeDir(datadir);
    throw err;
  }
  const stop = async (): Promise<void> => {
    untrack();
    await app.stop();
    removeDir(datadir);
  };
  const untrack = trackTeardown(stop);
  return { app, url: `http://127.0.0.1:${app.addresses.http.port}`, datadir, stop };
}

/** Starts a node. `config` is merged over test defaults (loopback, port 0, PGlite in memory). */
export function startNode(config: Record<string, unknown> = {}, dbUrl = 'pglite://memory'): Promise<TestNode> {
  const base: Record<string, unknown> = {
    name: 'test-node',
    http: { listenaddr: '127.0.0.1:0' },
    rtmp: { listenaddr: '127.0.0.1:0' },
    database: { url: dbUrl },
    log: { level: LOG_LEVEL },
  };
  return launchApp({ ...base, ...config }, 'sc-node-', (level, name) => createLogger(level, name, process.stderr as never));
}

/** Calls a REST endpoint; returns status and parsed JSON. */
export async function rest(
  node: { url: string },
  method: string,
  p: string,
  body?: unknown,
  raw?: string,
): Promise<{ status: number; json: { code: number; message: string; data: unknown } }> {
  const init: RequestInit = { method, headers: { 'content-type': 'application/json' } };
  if (raw !== undefined) init.body = raw;
  else if (body !== undefined) init.body = JSON.stringify(body);
  const r = await fetch(node.url + p, init);
  const text = await r.text();
  return { status: r.status, json: JSON.parse(text) as { code: number; message: string; data: unknown } };
}

/** Runs a typed GraphQL operation over HTTP. */
export async function gql<R, V>(
  node: { url: string },
  doc: TypedDocumentNode<R, V>,
  variables?: V,
): Promise<ExecutionResult<R>> {
  const r = await fetch(`${node.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify({ query: print(doc), variables }),
  });
  return (await r.json()) as ExecutionResult<R>;
}

/** Waits until `check` returns a truthy value, polling; bounded by `timeoutMs` (a safety net, not a budget). */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 30_000, what = 'condition'): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}
