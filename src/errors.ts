/**
 * One catalogue of expected errors. Each has a stable `code` (GraphQL
 * `extensions.code`), a numeric REST envelope code and an HTTP status.
 * Anything else is unexpected: logged in full, masked for the caller.
 *
 * The data plane's errors share the same base (CodedError: code + message); its
 * codes are wire close codes (ProtocolError, see dataplane/protocol/close-codes.ts)
 * or names of its own, and {@link expectedError} says which of them a caller sees.
 */
import { CodedError } from '../dataplane/errors.js';
import { RelayError } from '../dataplane/cascade/relay/requester.js';

export const ErrorCatalog = {
  VALIDATION: { status: 400, envelope: 400 },
  BAD_JSON: { status: 400, envelope: 400 },
  UNAUTHORIZED: { status: 401, envelope: 401 },
  FORBIDDEN: { status: 403, envelope: 403 },
  NOT_FOUND: { status: 404, envelope: 404 },
  METHOD_NOT_ALLOWED: { status: 405, envelope: 405 },
  NAME_TAKEN: { status: 409, envelope: 409 },
  CONFLICT: { status: 409, envelope: 409 },
  LENGTH_REQUIRED: { status: 411, envelope: 411 },
  PAYLOAD_TOO_LARGE: { status: 413, envelope: 413 },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, envelope: 415 },
  INTERNAL: { status: 500, envelope: 500 },
  BAD_GATEWAY: { status: 502, envelope: 502 },
  UNAVAILABLE: { status: 503, envelope: 503 },
  TIMEOUT: { status: 504, envelope: 504 },
} as const;

type ErrorCode = keyof typeof ErrorCatalog;

/** An expected failure with a message safe to show to the caller. */
export class AppError extends CodedError<ErrorCode> {
  get status(): number {
    return ErrorCatalog[this.code].status;
  }
  get envelopeCode(): number {
    return ErrorCatalog[this.code].envelope;
  }
}

/** The catalogue code of a data-plane relay failure, by the HTTP status it carries. */
const RELAY_FAILURES: Record<number, ErrorCode> = {
  403: 'FORBIDDEN',
  413: 'PAYLOAD_TOO_LARGE',
  502: 'BAD_GATEWAY',
  503: 'UNAVAILABLE',
  504: 'TIMEOUT',
};

/**
 * The expected error `err` stands for, or null when it is unexpected (to be logged
 * and masked): an AppError as it is, a data-plane relay failure by its HTTP status.
 */
export function expectedError(err: unknown): AppError | null {
  if (err instanceof AppError) return err;
  if (err instanceof RelayError) return new AppError(RELAY_FAILURES[err.status] ?? 'BAD_GATEWAY', err.message);
  return null;
}

export const notFound = (what: string): AppError => new AppError('NOT_FOUND', `${what} not found`);
export const validation = (message: string): AppError => new AppError('VALIDATION', message);
