/**
 * Typed errors of the media node. Every error carries a stable `code` that
 * callers (REST, GraphQL, logs, tests) can match on; the message is for humans.
 */

import { CodedError } from '../errors.js';

/** Base class of every media error; its code is e.g. `RTMP_CHUNK_MALFORMED`. */
export class MediaError extends CodedError {}

/** Malformed or unsupported AMF0 data. */
export class Amf0Error extends MediaError {
  constructor(message: string, code = 'AMF0_MALFORMED') {
    super(code, message);
  }
}

/** The RTMP handshake was malformed (bad version, bad size). */
export class RtmpHandshakeError extends MediaError {
  constructor(message: string, code = 'RTMP_HANDSHAKE_FAILED') {
    super(code, message);
  }
}

/** The RTMP chunk stream was malformed or exceeded a bound. */
export class RtmpChunkError extends MediaError {
  constructor(message: string, code = 'RTMP_CHUNK_MALFORMED') {
    super(code, message);
  }
}

/** An RTMP command was malformed or out of sequence. */
export class RtmpProtocolError extends MediaError {
  constructor(message: string, code = 'RTMP_PROTOCOL_ERROR') {
    super(code, message);
  }
}

/** Malformed FLV data (bad header, bad tag, bad PreviousTagSize). */
export class FlvError extends MediaError {
  constructor(message: string, code = 'FLV_MALFORMED') {
    super(code, message);
  }
}

/** A codec configuration record (SPS, AudioSpecificConfig) could not be parsed. */
export class CodecInfoError extends MediaError {
  constructor(message: string, code = 'CODEC_CONFIG_MALFORMED') {
    super(code, message);
  }
}

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
