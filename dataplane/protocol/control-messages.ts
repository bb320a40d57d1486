import { z } from 'zod';
import { CloseCode } from './close-codes.js';
import { CONTROL_MAX_FRAME_BYTES, encodeFrame, frameTypeGuard, type Frame } from './frame-codec.js';
import { decodeJsonPayload } from './json-payload.js';
import { ProtocolError } from './protocol-error.js';
import { hasUnsafeText, UNSAFE_TEXT_MESSAGE } from './safe-text.js';

/** Protocol revision carried in HELLO/WELCOME; must be 1 within ALPN stream-cascade/1. */
export const PROTOCOL_REVISION = 1;

/** Control frame type bytes (PROTOCOL.md §4). */
export const ControlFrameType = {
  Hello: 0x01,
  Welcome: 0x02,
  Reject: 0x03,
  Ping: 0x04,
  Pong: 0x05,
  Announce: 0x06,
  Goaway: 0x07,
  Error: 0x08,
} as const;

/** A control frame type byte. */
type ControlFrameTypeValue = (typeof ControlFrameType)[keyof typeof ControlFrameType];

/** True for frame types valid on a control stream. */
export const isControlFrameType = frameTypeGuard(ControlFrameType);

const u8 = z.number().int().min(0).max(0xff);
const u32 = z.number().int().min(0).max(0xffff_ffff);
const reason = z.string().max(512);
const features = z.array(z.string().max(64)).max(32);
/** A node name or stream path: shown to operators, so no control or bidi characters. */
const safeName = (max: number) => z.string().min(1).max(max).refine((t) => !hasUnsafeText(t), UNSAFE_TEXT_MESSAGE);

/** Schemas of every control message body (unknown fields are stripped). */
const controlMessageSchemas = {
  hello: z.object({
    protocol: z.number().int(),
    name: safeName(128),
    version: z.string().max(64),
    secret: z.string().min(1).max(1024).nullable(),
    instanceId: z.string().max(64).optional(),
    features: features.optional(),
  }),
  welcome: z.object({
    protocol: z.number().int(),
    clientId: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    clientName: z.string().max(128),
    serverName: z.string().max(128),
    serverVersion: z.string().max(64),
    heartbeatIntervalMs: z.number().int().min(100).max(60_000),
    heartbeatTimeoutMs: z.number().int().min(100).max(300_000),
    features,
  }).refine((w) => w.heartbeatTimeoutMs >= w.heartbeatIntervalMs, 'heartbeatTimeoutMs < heartbeatIntervalMs'),
  reject: z.object({ code: u8, reason, retryAfterMs: z.number().int().min(0).max(86_400_000).optional() }),
  ping: z.object({ seq: u32, ts: z.number().finite() }),
  pong: z.object({ seq: u32, ts: z.number().finite() }),
  announce: z.object({
    reset: z.boolean(),
    added: z
      .array(
        z.object({
          path: safeName(512),
          /** The nodes the stream is announced through, from the node that has it up to the sender. */
          chain: z.array(safeName(128)).max(32).optional(),
        }),
      )
      .max(1000),
    removed: z.array(z.string().min(1).max(512)).max(1000),
  }),
  goaway: z.object({ code: u8, reason }),
  error: z.object({ code: u8, reason, ref: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional() }),
} as const;

type Schemas = typeof controlMessageSchemas;
/** Name of a control message. */
type ControlMessageName = keyof Schemas;

/** HELLO: client → server, first frame. `secret` is null when the client has none. */
export type HelloMessage = { type: 'hello' } & z.infer<Schemas['hello']>;
/** WELCOME: server → client, the link is up. */
export type WelcomeMessage = { type: 'welcome' } & z.infer<Schemas['welcome']>;
/** REJECT: server → client, authentication refused; the link is closed with `code`. */
type RejectMessage = { type: 'reject' } & z.infer<Schemas['reject']>;
/** PING: heartbeat; `ts` is the sender's monotonic clock in ms. */
type PingMessage = { type: 'ping' } & z.infer<Schemas['ping']>;
/** PONG: answer to a PING, echoing its `seq` and `ts`. */
type PongMessage = { type: 'pong' } & z.infer<Schemas['pong']>;
/** ANNOUNCE: delta of the streams available on the sender's side. */
export type AnnounceMessage = { type: 'announce' } & z.infer<Schemas['announce']>;
/** GOAWAY: the sender is closing the link with this code and reason. */
type GoawayMessage = { type: 'goaway' } & z.infer<Schemas['goaway']>;
/** ERROR: a non-fatal error report; the link goes on. */
type ErrorMessage = { type: 'error' } & z.infer<Schemas['error']>;

/** Any control message. */
export type ControlMessage =
  | HelloMessage
  | WelcomeMessage
  | RejectMessage
  | PingMessage
  | PongMessage
  | AnnounceMessage
  | GoawayMessage
  | ErrorMessage;

const TYPE_BYTE: Record<ControlMessageName, ControlFrameTypeValue> = {
  hello: ControlFrameType.Hello,
  welcome: ControlFrameType.Welcome,
  reject: ControlFrameType.Reject,
  ping: ControlFrameType.Ping,
  pong: ControlFrameType.Pong,
  announce: ControlFrameType.Announce,
  goaway: ControlFrameType.Goaway,
  error: ControlFrameType.Error,
};

const NAME_OF: ReadonlyMap<number, ControlMessageName> = new Map(
  (Object.entries(TYPE_BYTE) as Array<[ControlMessageName, number]>).map(([n, b]) => [b, n] as const),
);

const utf8 = new TextEncoder();

/**
 * Encode a control message as a complete frame. Throws RangeError when the JSON body
 * exceeds {@link CONTROL_MAX_FRAME_BYTES} (callers split ANNOUNCE lists).
 */
export function encodeControlMessage(msg: ControlMessage): Uint8Array {
  const { type, ...body } = msg;
  const payload = utf8.encode(JSON.stringify(body));
  if (payload.byteLength > CONTROL_MAX_FRAME_BYTES) {
    throw new RangeError(`control message ${type} too large: ${payload.byteLength} bytes`);
  }
  return encodeFrame(TYPE_BYTE[type], payload);
}


/**
 * Decode and validate a control frame. Throws {@link ProtocolError}: UnknownFrameType
 * for a type that is not a control frame, MalformedFrame for bad UTF-8/JSON or a body
 * failing its schema. The error message names the frame and field, never its values.
 */
export function decodeControlFrame(frame: Frame): ControlMessage {
  const name = NAME_OF.get(frame.type);
  if (!name) {
    throw new ProtocolError(
      CloseCode.UnknownFrameType,
      `protocol error: unknown frame type 0x${frame.type.toString(16).padStart(2, '0')}`,
    );
  }
  const data = decodeJsonPayload(name, frame.payload, controlMessageSchemas[name]);
  return { type: name, ...data } as ControlMessage;
}

/** An ANNOUNCE delta before it is split into frames. */
export interface AnnounceUpdate {
  reset: boolean;
  added: AnnounceMessage['added'];
  removed: string[];
}

/** Most entries (added + removed) per ANNOUNCE frame, within the schema's limits. */
const ANNOUNCE_MAX_ENTRIES = 1000;

/**
 * Split an announce delta into ANNOUNCE messages that each fit a control frame and the
 * schema's list limits (PROTOCOL.md §4). Only the first carries `reset: true`. An
 * empty delta without reset gives no message. Throws RangeError for a path the
 * receiver would refuse (empty or over 512 characters).
 */
export function chunkAnnounce(update: AnnounceUpdate, maxPayloadBytes: number = CONTROL_MAX_FRAME_BYTES - 1024): AnnounceMessage[] {
  const out: AnnounceMessage[] = [];
  let cur: AnnounceMessage = { type: 'announce', reset: update.reset, added: [], removed: [] };
  let size = 64; // {"reset":false,"added":[],"removed":[]} and slack
  const flush = (): void => {
    out.push(cur);
    cur = { type: 'announce', reset: false, added: [], removed: [] };
    size = 64;
  };
  const add = (bytes: number, put: () => void): void => {
    const n = cur.added.length + cur.removed.length;
    if (n > 0 && (n >= ANNOUNCE_MAX_ENTRIES || size + bytes + 1 > maxPayloadBytes)) flush();
    put();
    size += bytes + 1;
  };
  const check = (path: string): void => {
    if (path.length < 1 || path.length > 512) throw new RangeError(`announce path length must be 1-512, got ${path.length}`);
  };
  update.added.forEach((e) => check(e.path));
  update.removed.forEach(check);
  for (const entry of update.added) add(utf8.encode(JSON.stringify(entry)).byteLength, () => cur.added.push(entry));
  for (const path of update.removed) add(utf8.encode(JSON.stringify(path)).byteLength, () => cur.removed.push(path));
  if (cur.added.length + cur.removed.length > 0 || cur.reset) out.push(cur);
  return out;
}
