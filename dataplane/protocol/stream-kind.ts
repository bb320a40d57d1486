import { CloseCode } from './close-codes.js';
import { ProtocolError } from './protocol-error.js';

/** The first byte of every QUIC stream on a cascade link (PROTOCOL.md §2). */
export const StreamKind = {
  /** The control stream: opened once by the client, first. */
  Control: 0x01,
  /** One pushed media stream. */
  MediaPush: 0x02,
  /** One pulled media stream. */
  MediaPull: 0x03,
  /** One relayed HTTP request, opened by the server. */
  ApiRelay: 0x04,
} as const;

/** A stream kind byte. */
export type StreamKindValue = (typeof StreamKind)[keyof typeof StreamKind];

const KIND_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(StreamKind).map(([name, v]) => [v, name] as const),
);

/** True when the byte is an assigned stream kind. */
function isStreamKind(b: number): b is StreamKindValue {
  return KIND_NAMES.has(b);
}

/** Name of a stream kind, for logs. */
export function streamKindName(kind: number): string {
  return KIND_NAMES.get(kind) ?? `0x${kind.toString(16).padStart(2, '0')}`;
}

/** Validate a received kind byte; throws {@link ProtocolError} (UnknownStreamKind) otherwise. */
export function parseStreamKind(b: number): StreamKindValue {
  if (isStreamKind(b)) return b;
  throw new ProtocolError(CloseCode.UnknownStreamKind, `protocol error: unknown stream kind 0x${b.toString(16).padStart(2, '0')}`);
}
