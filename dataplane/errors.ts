/**
 * The one shape of an expected error: a stable machine-readable `code` that callers
 * (REST, GraphQL, close frames, logs, tests) match on, and a message for humans.
 * The data plane's errors (CascadeError, MediaError, ProtocolError, RelayError) and the
 * control plane's AppError extend it; src/errors.ts maps codes to HTTP and GraphQL.
 */
export class CodedError<C extends string | number = string> extends Error {
  readonly code: C;
  constructor(code: C, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}
