/**
 * The API relay over a cascade link (PROTOCOL.md §11): the upper node's requester
 * sends one HTTP request down an ApiRelay stream, the lower node's responder runs it
 * against its own HTTP API and streams the answer back.
 */
export { relayRequest, RelayError, type RelayRequest, type RelayOutcome } from './requester.js';
export { relayResponder, type RelayAnswer, type RelayExecutor, type RelayResponderOptions } from './responder.js';
