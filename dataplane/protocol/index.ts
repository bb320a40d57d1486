/**
 * The cascade wire protocol: pure codecs, no I/O. See dataplane/PROTOCOL.md.
 */
export * from './alpn.js';
export * from './close-codes.js';
export * from './protocol-error.js';
export * from './stream-kind.js';
export * from './frame-codec.js';
export * from './control-messages.js';
export * from './fingerprint.js';
export * from './media-frames.js';
export * from './safe-text.js';
