/**
 * One catalogue of expected errors. Each has a stable `code` (GraphQL
 * `extensions.code`), a numeric REST envelope code and an HTTP status.
 * Anything else is unexpected: logged in full, masked for the caller.
 */
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

export type ErrorCode = keyof typeof ErrorCatalog;

/** An expected failure with a message safe to show to the caller. */
export class AppError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'AppError';
    this.code = code;
  }
  get status(): number {
    return ErrorCatalog[this.code].status;
  }
  get envelopeCode(): number {
    return ErrorCatalog[this.code].envelope;
  }
}

export const notFound = (what: string): AppError => new AppError('NOT_FOUND', `${what} not found`);
export const validation = (message: string): AppError => new AppError('VALIDATION', message);
