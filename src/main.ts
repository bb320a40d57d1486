/**
 * The program: `stream-cascade [--config FILE]`. The only place that exits.
 */
import { parseArgs } from 'node:util';
import { buildApp } from './app.js';
import { ConfigError, defaultConfig, loadConfigFile, type Config } from './config.js';
import { DatabaseError } from './db/database.js';
import { VERSION } from './version.js';

const USAGE = `usage: stream-cascade [--config FILE]

  -c, --config FILE   YAML configuration (default: built-in defaults:
                      cascade server on, PGlite database under ./data,
                      HTTP :8080, RTMP :1935, QUIC :44944)
  -v, --version       print the version
  -h, --help          this text
`;

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
  const app = buildApp(config);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      app.logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    app.logger.info({ signal }, 'stopping');
    const hard = setTimeout(() => {
      app.logger.error('stop took over 10 s: exiting');
      process.exit(1);
    }, 10_000);
    hard.unref();
    app.stop().then(
      () => {
        app.logger.flush();
        process.exitCode = 0;
        setTimeout(() => process.exit(0), 50).unref();
      },
      (err: unknown) => {
        app.logger.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('unhandledRejection', (reason) => app.logger.error({ err: reason }, 'unhandled promise rejection'));
  try {
    await app.start();
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
