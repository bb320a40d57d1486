/**
 * RTMP message model shared by the chunk decoder and encoder, plus builders
 * for protocol control and user control messages.
 */

/** RTMP message type ids. */
export const RtmpMessageType = {
  SetChunkSize: 1,
  Abort: 2,
  Acknowledgement: 3,
  UserControl: 4,
  WindowAckSize: 5,
  SetPeerBandwidth: 6,
  Audio: 8,
  Video: 9,
  DataAmf3: 15,
  CommandAmf3: 17,
  DataAmf0: 18,
  CommandAmf0: 20,
  Aggregate: 22,
} as const;

/** User control event types (message type 4). */
export const UserControlEvent = {
  StreamBegin: 0,
  StreamEof: 1,
  StreamDry: 2,
  SetBufferLength: 3,
  StreamIsRecorded: 4,
  PingRequest: 6,
  PingResponse: 7,
} as const;

/** A complete RTMP message. */
export interface RtmpMessage {
  /** Chunk stream id it travelled on (2..65599). */
  csid: number;
  /** Message type id (see {@link RtmpMessageType}). */
  type: number;
  /** Message stream id (0 for control/NetConnection). */
  streamId: number;
  /** Timestamp in ms, uint32. */
  timestamp: number;
  payload: Uint8Array;
}

/** Chunk stream ids used by the server when sending. */
export const Csid = {
  Control: 2,
  Command: 3,
  Audio: 4,
  Data: 5,
  Video: 6,
} as const;

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0);
  return b;
}

function control(type: number, payload: Uint8Array): RtmpMessage {
  return { csid: Csid.Control, type, streamId: 0, timestamp: 0, payload };
}

/** Set Chunk Size (type 1). */
export const setChunkSizeMessage = (size: number): RtmpMessage =>
  control(RtmpMessageType.SetChunkSize, u32(size & 0x7fffffff));
/** Acknowledgement (type 3) with the received byte count. */
export const ackMessage = (bytes: number): RtmpMessage => control(RtmpMessageType.Acknowledgement, u32(bytes));
/** Window Acknowledgement Size (type 5). */
export const windowAckSizeMessage = (size: number): RtmpMessage => control(RtmpMessageType.WindowAckSize, u32(size));
/** Set Peer Bandwidth (type 6); limit type 2 = dynamic. */
export function setPeerBandwidthMessage(size: number, limitType = 2): RtmpMessage {
  const b = new Uint8Array(5);
  new DataView(b.buffer).setUint32(0, size >>> 0);
  b[4] = limitType;
  return control(RtmpMessageType.SetPeerBandwidth, b);
}
/** User Control (type 4) with a 32-bit argument (stream id or ping timestamp). */
export function userControlMessage(event: number, value: number): RtmpMessage {
  const b = new Uint8Array(6);
  const v = new DataView(b.buffer);
  v.setUint16(0, event);
  v.setUint32(2, value >>> 0);
  return control(RtmpMessageType.UserControl, b);
}
