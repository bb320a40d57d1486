/**
 * The program: `stream-cascade [--config FILE]`. The only place that exits.
 * The node itself (database, GraphQL, QUIC: seconds of module loading) is loaded
 * only once the arguments and the config are read, so `--help`, `--version` and
 * config errors answer at once.
 */
import { parseArgs } from 'node:util';
import { ConfigError, defaultConfig, loadConfigFile, type Config } from './config.js';
import { prestartPglite } from './db/pglite-open.js';
import { startMemorySettle } from './memory-settle.js';
import { VERSION } from './version.js';

const USAGE = `usage: stream-cascade [--config FILE]

  -c, --config FILE   YAML configuration (default: built-in defaults:
                      cascade server on, PGlite database under ./data,
                      HTTP :8080, RTMP :1935, QUIC :44944)
  -v, --version       print the version
  -h, --help          this text
`;

/** A clean stop that takes longer than this is cut short (exit 1). */
const STOP_TIMEOUT_MS = 10_000;
/**
 * A repeat of the stop signal sooner than this after the first is the same stop
 * request delivered twice and is ignored; a later one forces the exit. SIGTERM:
 * 2 s (group kills and forwarding deliver copies within milliseconds). SIGINT:
 * 300 ms, so that a person's second Ctrl-C forces the exit while the copy npm
 * forwards from a single Ctrl-C does not.
 */
const SAME_REQUEST_MS = { SIGTERM: 2_000, SIGINT: 300 } as const;

function fail(message: string): never {
  process.stderr.write(`stream-cascade: ${message}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        config: { type: 'string', short: 'c' },
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
  }
  if (args.values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (args.values.version) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  let config: Config;
  try {
    config = args.values.config ? loadConfigFile(args.values.config) : defaultConfig();
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  // The embedded database boots in its worker thread while the rest of the program loads.
  if (config.database.kind === 'pglite' && config.database.dir) prestartPglite(config.database.dir);
  const [{ buildApp }, { DatabaseError }] = await Promise.all([import('./app.js'), import('./db/database.js')]);
  const app = buildApp(config);
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  let stoppingSince: number | null = null;
  function onSignal(signal: 'SIGINT' | 'SIGTERM'): void {
    const now = performance.now();
    if (stoppingSince !== null) {
      // One stop request often arrives twice: a process-group kill (npm, systemd, a
      // test harness) plus the parent forwarding it, or one Ctrl-C seen by npm and
      // the node. A repeat within the window is that same request; a later one
      // (a person pressing Ctrl-C again, an operator insisting) forces the exit.
      const since = now - stoppingSince;
      if (since < SAME_REQUEST_MS[signal]) {
        app.logger.info({ signal, sinceMs: Math.round(since) }, 'signal repeated while stopping: still stopping cleanly');
        return;
      }
      app.logger.warn({ signal, sinceMs: Math.round(since) }, 'second signal: exiting now');
      app.logger.flush();
      process.exit(1);
    }
    stoppingSince = now;
    app.logger.info({ signal }, 'stopping');
    const hard = setTimeout(() => {
      app.logger.error('stop took over 10 s: exiting');
      app.logger.flush();
      process.exit(1);
    }, STOP_TIMEOUT_MS);
    hard.unref();
    app.stop().then(
      () => {
        app.logger.flush();
        process.exitCode = 0;
        setTimeout(() => process.exit(0), 50).unref();
      },
      (err: unknown) => {
        app.logger.error({ err }, 'stop failed');
        app.logger.flush();
        process.exit(1);
      },
    );
  }
  process.on('unhandledRejection', (reason) => app.logger.error({ err: reason }, 'unhandled promise rejection'));
  try {
    await app.start();
    startMemorySettle();
  } catch (err) {
    if (err instanceof DatabaseError || err instanceof ConfigError) fail(err.message);
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES') fail(`cannot listen: ${e.message}`);
    app.logger.fatal({ err }, 'start failed');
    app.logger.flush();
    process.exit(1);
  }
}

void main();
