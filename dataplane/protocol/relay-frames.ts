/**
 * Frames of an ApiRelay stream (PROTOCOL.md §11): one relayed HTTP request from the
 * server (upper node) to the client (lower node) and its response back. Pure, no I/O.
 */
import { z } from 'zod';
import { CloseCode } from './close-codes.js';
import { encodeFrame, FrameDecoder, frameTypeGuard, type Frame } from './frame-codec.js';
import { decodeJsonPayload } from './json-payload.js';
import { ProtocolError } from './protocol-error.js';

/** Relay frame type bytes (PROTOCOL.md §11; range 0x80-0xbf). */
export const RelayFrameType = {
  /** server → client, first frame: method, target, headers, caller. */
  RequestHead: 0x80,
  /** server → client: a piece of the request body. */
  RequestBody: 0x81,
  /** server → client: the request body is complete (empty payload). */
  RequestEnd: 0x82,
  /** client → server, first frame: status and headers. */
  ResponseHead: 0x88,
  /** client → server: a piece of the response body, as produced. */
  ResponseBody: 0x89,
  /** client → server: the response body is complete (empty payload). */
  ResponseEnd: 0x8a,
  /** client → server, instead of RESPONSE_HEAD: the lower node refuses or failed. */
  RelayError: 0x8f,
} as const;

/** True for frame types valid on an ApiRelay stream. */
export const isRelayFrameType = frameTypeGuard(RelayFrameType);

/** Largest payload of a relay frame (64 KiB); bodies are split into pieces of at most this. */
export const RELAY_MAX_FRAME_BYTES = 64 * 1024;

/** An HTTP token (RFC 9110 §5.6.2): header names and methods. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Header values: no CR, LF or NUL (no header or request splitting). */
const FIELD_VALUE = /^[^\r\n\0]*$/;
/** Request target: origin-form only, visible ASCII, no backslash. */
const ORIGIN_FORM = /^\/[\x21-\x5b\x5d-\x7e]*$/;

const headerList = z
  .array(z.tuple([z.string().min(1).max(256).regex(TOKEN), z.string().max(16 * 1024).regex(FIELD_VALUE)]))
  .max(256);

/** Schemas of the JSON relay frames (unknown fields are stripped). */
const relayMessageSchemas = {
  requestHead: z.object({
    method: z.string().min(1).max(32).regex(TOKEN),
    /** Path and query on the lower node ("/api/stream/list?x=1"). */
    target: z.string().min(1).max(8192).regex(ORIGIN_FORM),
    headers: headerList,
    /** Address of the original caller (the upper node's view), checked against the client's whitelist. */
    caller: z.string().min(1).max(64).regex(/^[0-9A-Fa-f:.]+$/),
  }),
  responseHead: z.object({
    status: z.number().int().min(200).max(599),
    headers: headerList,
  }),
  relayError: z.object({
    status: z.number().int().min(400).max(599),
    message: z.string().max(512),
  }),
} as const;

type Schemas = typeof relayMessageSchemas;
/** REQUEST_HEAD body. */
export type RelayRequestHead = z.infer<Schemas['requestHead']>;
/** RESPONSE_HEAD body. */
export type RelayResponseHead = z.infer<Schemas['responseHead']>;
/** RELAY_ERROR body. */
type RelayErrorMessage = z.infer<Schemas['relayError']>;

const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);

function encodeJson(type: number, body: unknown): Uint8Array {
  const payload = utf8.encode(JSON.stringify(body));
  if (payload.byteLength > RELAY_MAX_FRAME_BYTES) throw new RangeError(`relay frame 0x${type.toString(16)} too large: ${payload.byteLength} bytes`);
  return encodeFrame(type, payload);
}

/** REQUEST_HEAD frame. Throws RangeError when the head does not fit a frame. */
export function encodeRequestHead(head: RelayRequestHead): Uint8Array {
  return encodeJson(RelayFrameType.RequestHead, head);
}

/** RESPONSE_HEAD frame. Throws RangeError when the head does not fit a frame. */
export function encodeResponseHead(head: RelayResponseHead): Uint8Array {
  return encodeJson(RelayFrameType.ResponseHead, head);
}

/** RELAY_ERROR frame (the message is cut to 512 characters). */
export function encodeRelayError(err: RelayErrorMessage): Uint8Array {
  return encodeJson(RelayFrameType.RelayError, { status: err.status, message: err.message.slice(0, 512) });
}

/** REQUEST_END / RESPONSE_END frame. */
export function encodeRelayEnd(type: typeof RelayFrameType.RequestEnd | typeof RelayFrameType.ResponseEnd): Uint8Array {
  return encodeFrame(type, EMPTY);
}

/** Body frames (REQUEST_BODY / RESPONSE_BODY) for a chunk of any size: one frame per 64 KiB. */
export function encodeBodyFrames(
  type: typeof RelayFrameType.RequestBody | typeof RelayFrameType.ResponseBody,
  chunk: Uint8Array,
): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < chunk.byteLength; i += RELAY_MAX_FRAME_BYTES) {
    out.push(encodeFrame(type, chunk.subarray(i, Math.min(chunk.byteLength, i + RELAY_MAX_FRAME_BYTES))));
  }
  return out;
}


function decodeJson<N extends keyof Schemas>(name: N, frame: Frame): z.infer<Schemas[N]> {
  return decodeJsonPayload(name, frame.payload, relayMessageSchemas[name]) as z.infer<Schemas[N]>;
}

/** Validate a REQUEST_HEAD frame; throws {@link ProtocolError} (MalformedFrame / UnexpectedFrame). */
export function decodeRequestHead(frame: Frame): RelayRequestHead {
  if (frame.type !== RelayFrameType.RequestHead) throw unexpected(frame.type, 'REQUEST_HEAD');
  return decodeJson('requestHead', frame);
}

/** Validate a RESPONSE_HEAD frame; throws {@link ProtocolError}. */
export function decodeResponseHead(frame: Frame): RelayResponseHead {
  if (frame.type !== RelayFrameType.ResponseHead) throw unexpected(frame.type, 'RESPONSE_HEAD');
  return decodeJson('responseHead', frame);
}

/** Validate a RELAY_ERROR frame; throws {@link ProtocolError}. */
export function decodeRelayError(frame: Frame): RelayErrorMessage {
  if (frame.type !== RelayFrameType.RelayError) throw unexpected(frame.type, 'RELAY_ERROR');
  return decodeJson('relayError', frame);
}

/** UnexpectedFrame: a relay frame in the wrong direction or order. */
export function unexpected(type: number, expected: string): ProtocolError {
  return new ProtocolError(
    CloseCode.UnexpectedFrame,
    `protocol error: unexpected frame 0x${type.toString(16).padStart(2, '0')} on an ApiRelay stream (expected ${expected})`,
  );
}

/** A frame decoder for ApiRelay streams (relay types only, 64 KiB payloads). */
export function relayFrameDecoder(): FrameDecoder {
  return new FrameDecoder({ maxFrameBytes: RELAY_MAX_FRAME_BYTES, isKnownType: isRelayFrameType });
}
