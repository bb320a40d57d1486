/**
 * Telling "the database cannot be reached" apart from "this query is wrong":
 * the first is an outage the caller may retry (503, GraphQL code UNAVAILABLE),
 * the second an internal error.
 */
import { AppError } from '../errors.js';

const NET_CODES = new Set(['PGLITE_WORKER_GONE', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** SQLSTATEs: 08xxx connection exceptions, 57P01-57P03 server shutdown/starting, 53300 too many connections. */
const SQLSTATES = /^(08\d{3}|57P0[123]|53300)$/;
const MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection is not established|Query read timeout|the database system is (starting up|shutting down)|Cannot use a pool after calling end/i;

/** True when `err` (or what it wraps: TypeORM's driverError, `cause`) says the database is unreachable. */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (depth > 4 || typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown };
  if (typeof e.code === 'string' && (NET_CODES.has(e.code) || SQLSTATES.test(e.code))) return true;
  if (typeof e.message === 'string' && MESSAGES.test(e.message)) return true;
  return isDatabaseUnavailable(e.driverError, depth + 1) || isDatabaseUnavailable(e.cause, depth + 1);
}

/** The error callers see during an outage. */
export function databaseUnavailable(): AppError {
  return new AppError('UNAVAILABLE', 'database unavailable; try again shortly');
}
