import { CodedError } from '../errors.js';
import { closeReason, type CloseCodeValue } from './close-codes.js';

/**
 * A violation of the cascade wire protocol found while decoding. Carries the close
 * code the link must be closed with; `message` is the reason sent to the peer, so it
 * never contains secrets or raw payload bytes.
 */
export class ProtocolError extends CodedError<CloseCodeValue> {
  constructor(code: CloseCodeValue, message: string = closeReason(code)) {
    super(code, message);
  }
}
