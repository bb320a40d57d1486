import { CodedError } from '../errors.js';

/** Stable codes of {@link CascadeError}. */
type CascadeErrorCode =
  /** The client record has no live link. */
  | 'CASCADE_CLIENT_OFFLINE'
  /** The cascade client is not online. */
  | 'CASCADE_NOT_ONLINE'
  /** Invalid options. */
  | 'CASCADE_CONFIG'
  /** The server already started or was stopped. */
  | 'CASCADE_STATE';

/** An error of the cascade session layer, with a stable code. */
export class CascadeError extends CodedError<CascadeErrorCode> {}
