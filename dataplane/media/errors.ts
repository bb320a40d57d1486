/**
 * Typed errors of the media node. Every error carries a stable `code` that
 * callers (REST, GraphQL, logs, tests) can match on; the message is for humans.
 */

import { CodedError } from '../errors.js';

/** Base class of every media error; its code is e.g. `RTMP_CHUNK_MALFORMED`. */
export class MediaError extends CodedError {}

/** A media error class whose code is `code` unless the thrower names a narrower one. */
function withDefaultCode(code: string): new (message: string, code?: string) => MediaError {
  return class extends MediaError {
    constructor(message: string, narrower = code) {
      super(narrower, message);
    }
  };
}

/** Malformed or unsupported AMF0 data. */
export class Amf0Error extends withDefaultCode('AMF0_MALFORMED') {}

/** The RTMP handshake was malformed (bad version, bad size). */
export class RtmpHandshakeError extends withDefaultCode('RTMP_HANDSHAKE_FAILED') {}

/** The RTMP chunk stream was malformed or exceeded a bound. */
export class RtmpChunkError extends withDefaultCode('RTMP_CHUNK_MALFORMED') {}

/** An RTMP command was malformed or out of sequence. */
export class RtmpProtocolError extends withDefaultCode('RTMP_PROTOCOL_ERROR') {}

/** Malformed FLV data (bad header, bad tag, bad PreviousTagSize). */
export class FlvError extends withDefaultCode('FLV_MALFORMED') {}

/** A codec configuration record (SPS, AudioSpecificConfig) could not be parsed. */
export class CodecInfoError extends withDefaultCode('CODEC_CONFIG_MALFORMED') {}

/** `hub.publish()` on a path that already has a publisher. */
export class StreamBusyError extends MediaError {
  readonly path: string;
  constructor(path: string) {
    super('STREAM_BUSY', `stream ${path} already has a publisher`);
    this.path = path;
  }
}

/** A stream path that is not `app/name` (segments of [A-Za-z0-9_.~-], no `.`/`..`). */
export class InvalidStreamPathError extends MediaError {
  readonly path: string;
  constructor(path: string) {
    super('STREAM_PATH_INVALID', `invalid stream path ${JSON.stringify(path.slice(0, 100))}`);
    this.path = path;
  }
}

/** An operation on a hub, publisher or subscriber that is already closed. */
export class MediaClosedError extends MediaError {
  constructor(what: string) {
    super('MEDIA_CLOSED', `${what} is closed`);
  }
}
