/**
 * One RTMP connection: handshake, chunk stream both ways, NetConnection /
 * NetStream commands, and either publishing into the hub or playing from it.
 * A protocol error or timeout closes this connection only, with a log line.
 */
import type net from 'node:net';
import type { Logger } from 'pino';
import { amf0Props, decodeAmf0, encodeAmf0, type Amf0Value } from './amf0.js';
import { MediaError, RtmpProtocolError, StreamBusyError } from './errors.js';
import { FLV_TAG_HEADER_SIZE } from './flv.js';
import { createMediaTag, mediaTagType, TimestampRebaser, type MediaTag } from './media-tag.js';
import { DEFAULT_MERGE_WRITE_MS, writeParts } from './merged-writes.js';
import type { PlayerAdmission, PlayerAdmissionOptions } from './player-admission.js';
import { sharedRtmpMessage } from './shared-encoding.js';
import type { Publisher } from './live-stream.js';
import { redactedQuery, type PublishGate } from './publish-gate.js';
import { RtmpChunkDecoder } from './rtmp-chunk-decoder.js';
import type { PendingAccount } from './rtmp-pending-budget.js';
import { RtmpChunkEncoder } from './rtmp-chunk-encoder.js';
import { RtmpServerHandshake } from './rtmp-handshake.js';
import {
  ackMessage,
  Csid,
  RtmpMessageType as T,
  setChunkSizeMessage,
  setPeerBandwidthMessage,
  userControlMessage,
  UserControlEvent,
  windowAckSizeMessage,
  type RtmpMessage,
} from './rtmp-message.js';
import type { StreamHub } from './stream-hub.js';
import type { Subscriber, SubscriberOptions } from './stream-subscriber.js';
import { pumpMerged, waitDrain } from './subscriber-pump.js';
import { copyBytes } from './bytes.js';

/** Tunables of RTMP sessions. */
export interface RtmpSessionOptions extends PlayerAdmissionOptions {
  hub: StreamHub;
  logger: Logger;
  /** Handshake must complete within, ms. Default 5_000. */
  handshakeTimeoutMs?: number;
  /** Close a connection (not playing) that sends nothing for, ms. Default 10_000. */
  idleTimeoutMs?: number;
  /** Outgoing chunk size. Default 4096. */
  chunkSize?: number;
  /** How long `play` waits for a missing stream when the hub has a missing-stream handler, ms. Default 5_000. */
  playWaitMs?: number;
  /** Queue bounds of RTMP players. */
  subscriber?: SubscriberOptions;
  /** Write merging window of players, ms (see {@link pumpMerged}); 0 = write as tags come. Default 350. */
  mergeWriteMs?: number;
  /**
   * Most bytes one connection may hold in unfinished messages (and so the largest
   * message it may send). Default 8 MiB.
   */
  maxPendingBytes?: number;
  /** Asked before every publish; none: every valid publish goes on. */
  publishGate?: PublishGate;
}

/** Default of {@link RtmpSessionOptions.maxPendingBytes}: 8 MiB, several times the largest keyframe of a 4K stream. */
const DEFAULT_RTMP_MAX_PENDING_BYTES = 8 * 1024 * 1024;

/** Unsent bytes on a player's socket above which its pump pauses. */
const PLAY_HIGH_WATER_BYTES = 1024 * 1024;

const WINDOW_ACK_SIZE = 5_000_000;
const MAX_STREAMS = 8;
/** Most media bytes kept while a publish is being authorized (a hook answers within seconds). */
const MAX_HELD_BYTES = 8 * 1024 * 1024;

/** @internal Created by the RTMP server per accepted socket. */
export class RtmpSession {
  private log: Logger;
  private readonly handshake = new RtmpServerHandshake();
  private handshakeDone = false;
  private readonly decoder: RtmpChunkDecoder;
  private readonly encoder = new RtmpChunkEncoder();
  private handshakeTimer: NodeJS.Timeout | null;
  private bytesIn = 0;
  private lastAck = 0;
  private peerWindow = 0;
  private app: string | null = null;
  private appQuery = '';
  private nextStreamId = 1;
  private publisher: Publisher | null = null;
  private publishStreamId = 0;
  /** A publish waiting for the gate's answer. */
  private publishPending = false;
  /** Media that came while the gate decided (encoders send headers right after `publish`), replayed once allowed. */
  private held: { msgs: RtmpMessage[]; bytes: number } | null = null;
  private subscriber: Subscriber | null = null;
  private playStreamId = 0;
  private closedFlag = false;
  private readonly remote: string;

  constructor(
    private readonly socket: net.Socket,
    private readonly opts: RtmpSessionOptions,
    private readonly onClosed: (s: RtmpSession) => void,
    private readonly admission: PlayerAdmission,
    private readonly account: PendingAccount,
  ) {
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    this.log = opts.logger.child({ remote: this.remote });
    const maxPendingBytes = opts.maxPendingBytes ?? DEFAULT_RTMP_MAX_PENDING_BYTES;
    this.decoder = new RtmpChunkDecoder({ maxMessageSize: maxPendingBytes, maxPendingBytes, allowance: account });
    socket.setNoDelay(true);
    this.handshakeTimer = setTimeout(() => this.close('handshake timeout', 'warn'), opts.handshakeTimeoutMs ?? 5_000);
    socket.setTimeout(opts.idleTimeoutMs ?? 10_000);
    socket.on('timeout', () => {
      if (this.subscriber === null) this.close('idle timeout', 'warn');
    });
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (err) => this.log.debug({ err }, 'rtmp socket error'));
    socket.on('close', () => this.close('socket closed', 'debug'));
    this.log.debug('rtmp connection');
  }

  /** Close the connection and release its publisher/subscriber. Idempotent. */
  close(reason: string, level: 'debug' | 'info' | 'warn' = 'info'): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.log[level]({ reason, bytesIn: this.bytesIn }, 'rtmp connection closed');
    this.decoder.release();
    this.account.close();
    this.publisher?.close('publisher disconnected');
    this.subscriber?.close('player disconnected');
    this.socket.destroy();
    this.onClosed(this);
  }

  private onData(data: Buffer): void {
    if (this.closedFlag) return;
    this.bytesIn += data.length;
    try {
      let rest: Uint8Array = data;
      if (!this.handshakeDone) {
        const step = this.handshake.push(data);
        if (step.reply !== undefined) this.socket.write(step.reply);
        if (!step.done) return;
        this.handshakeDone = true;
        if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
        this.handshakeTimer = null;
        rest = step.rest ?? new Uint8Array(0);
        if (rest.length === 0) return;
      }
      this.decoder.push(rest, (msg) => this.onMessage(msg));
      if (this.peerWindow > 0 && this.bytesIn - this.lastAck >= this.peerWindow) {
        this.lastAck = this.bytesIn;
        this.send(ackMessage(this.bytesIn));
      }
    } catch (err) {
      if (err instanceof MediaError) {
        this.log.warn({ code: err.code, err: err.message }, 'rtmp protocol error');
        this.close(`protocol error ${err.code}`, 'debug');
      } else {
        this.log.error({ err }, 'rtmp session failed');
        this.close('internal error', 'debug');
      }
    }
  }

  private send(msg: RtmpMessage): boolean {
    if (this.socket.destroyed) return false;
    return this.socket.write(this.encoder.encode(msg));
  }

  private sendCommand(streamId: number, ...values: Amf0Value[]): void {
    this.send({ csid: Csid.Command, type: T.CommandAmf0, streamId, timestamp: 0, payload: encodeAmf0(...values) });
  }

  private sendStatus(streamId: number, level: 'status' | 'error', code: string, description: string): void {
    this.sendCommand(streamId, 'onStatus', 0, null, { level, code, description });
  }

  private onMessage(msg: RtmpMessage): void {
    switch (msg.type) {
      case T.WindowAckSize:
        if (msg.payload.length >= 4) this.peerWindow = u32(msg.payload, 0);
        return;
      case T.UserControl:
        if (msg.payload.length >= 6 && u16(msg.payload, 0) === UserControlEvent.PingRequest) {
          this.send(userControlMessage(UserControlEvent.PingResponse, u32(msg.payload, 2)));
        }
        return;
      case T.Audio:
      case T.Video:
      case T.DataAmf0:
      case T.DataAmf3:
      case T.Aggregate:
        if (this.held !== null) return this.hold(msg);
        return msg.type === T.Aggregate ? this.onAggregate(msg) : this.onMedia(msg);
      case T.CommandAmf0:
      case T.CommandAmf3: {
        const body = msg.type === T.CommandAmf3 ? msg.payload.subarray(1) : msg.payload;
        return this.onCommand(msg.streamId, decodeAmf0(body));
      }
      default:
        return; // chunk size, abort, ack, peer bandwidth: nothing to do here
    }
  }

  private hold(msg: RtmpMessage): void {
    const held = this.held!;
    held.bytes += msg.payload.byteLength;
    if (held.bytes > MAX_HELD_BYTES) throw new RtmpProtocolError('too much media while the publish was being authorized');
    held.msgs.push(msg);
  }

  private onMedia(msg: RtmpMessage): void {
    if (this.publisher === null || msg.streamId !== this.publishStreamId) return;
    const type = mediaTagType(msg.type === T.DataAmf3 ? T.DataAmf0 : msg.type);
    if (type === null) return;
    const body = msg.type === T.DataAmf3 ? msg.payload.subarray(1) : msg.payload;
    if (body.length === 0) return;
    this.publisher.write(createMediaTag(type, msg.timestamp, body));
  }

  /** Aggregate messages carry FLV-tag-shaped sub-messages. */
  private onAggregate(msg: RtmpMessage): void {
    const b = msg.payload;
    let p = 0;
    let base: number | null = null;
    while (b.length - p >= FLV_TAG_HEADER_SIZE) {
      const type = b[p] as number;
      const size = ((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number);
      const ts = (((b[p + 7] as number) << 24) | ((b[p + 4] as number) << 16) | ((b[p + 5] as number) << 8) | (b[p + 6] as number)) >>> 0;
      if (p + FLV_TAG_HEADER_SIZE + size > b.length) throw new RtmpProtocolError('truncated aggregate message');
      base ??= ts;
      this.onMedia({
        csid: msg.csid,
        type,
        streamId: msg.streamId,
        timestamp: (msg.timestamp + ts - base) >>> 0,
        payload: copyBytes(b, p + FLV_TAG_HEADER_SIZE, p + FLV_TAG_HEADER_SIZE + size),
      });
      p += FLV_TAG_HEADER_SIZE + size + 4;
    }
  }

  private onCommand(streamId: number, values: Amf0Value[]): void {
    const [name, txid, cmdObj] = values;
    if (typeof name !== 'string') throw new RtmpProtocolError('command without a name');
    const tx = typeof txid === 'number' ? txid : 0;
    const arg = (i: number): Amf0Value => values[3 + i];
    switch (name) {
      case 'connect':
        return this.onConnect(tx, cmdObj);
      case 'createStream': {
        if (this.nextStreamId > MAX_STREAMS) {
          this.sendCommand(0, '_error', tx, null, { level: 'error', code: 'NetConnection.Call.Failed', description: 'too many streams' });
          return;
        }
        this.sendCommand(0, '_result', tx, null, this.nextStreamId++);
        return;
      }
      case 'publish':
        this.onPublish(streamId, arg(0), arg(1)).catch((err: unknown) => {
          if (err instanceof MediaError) this.log.warn({ code: err.code, err: err.message }, 'rtmp protocol error');
          else this.log.error({ err }, 'rtmp publish failed');
          this.close('publish failed', 'debug');
        });
        return;
      case 'play':
        this.onPlay(streamId, arg(0)).catch((err: unknown) => {
          this.log.error({ err }, 'rtmp play failed');
          this.close('play failed', 'debug');
        });
        return;
      case 'deleteStream': {
        const id = arg(0);
        if (typeof id === 'number') this.stopStream(id);
        return;
      }
      case 'closeStream':
        return this.stopStream(streamId);
      default:
        // releaseStream, FCPublish, FCUnpublish, getStreamLength, _checkbw, receiveAudio/Video,
        // client replies: nothing to answer.
        this.log.trace({ command: name }, 'rtmp command ignored');
        return;
    }
  }

  private onConnect(tx: number, cmdObj: Amf0Value): void {
    const props = amf0Props(cmdObj);
    const appValue = props?.app;
    if (typeof appValue !== 'string' || appValue.length === 0) throw new RtmpProtocolError('connect without app');
    const q = appValue.indexOf('?');
    this.app = (q >= 0 ? appValue.slice(0, q) : appValue).replace(/\/+$/, '');
    this.appQuery = q >= 0 ? appValue.slice(q + 1) : '';
    // Some encoders put the query (a publish key) only in tcUrl.
    const tcUrl = props?.tcUrl;
    if (this.appQuery === '' && typeof tcUrl === 'string' && tcUrl.includes('?')) this.appQuery = tcUrl.slice(tcUrl.indexOf('?') + 1);
    const chunkSize = this.opts.chunkSize ?? 4096;
    this.send(windowAckSizeMessage(WINDOW_ACK_SIZE));
    this.send(setPeerBandwidthMessage(WINDOW_ACK_SIZE, 2));
    this.send(setChunkSizeMessage(chunkSize));
    this.encoder.chunkSize = chunkSize;
    const enc = props?.objectEncoding;
    const serverProps: Record<string, Amf0Value> = { fmsVer: 'FMS/3,0,1,123', capabilities: 31 };
    // Enhanced RTMP: echo the codecs the client offered; the hub forwards any FourCC as is.
    if (Array.isArray(props?.fourCcList)) serverProps.fourCcList = props.fourCcList;
    this.sendCommand(
      0,
      '_result',
      tx,
      serverProps,
      {
        level: 'status',
        code: 'NetConnection.Connect.Success',
        description: 'Connection succeeded.',
        objectEncoding: typeof enc === 'number' ? enc : 0,
      },
    );
  }

  private resolvePath(nameValue: Amf0Value): { path: string; query: string } | null {
    if (this.app === null || typeof nameValue !== 'string') return null;
    const q = nameValue.indexOf('?');
    const name = q >= 0 ? nameValue.slice(0, q) : nameValue;
    const query = [this.appQuery, q >= 0 ? nameValue.slice(q + 1) : ''].filter((s) => s.length > 0).join('&');
    return { path: `${this.app}/${name}`, query };
  }

  private async onPublish(streamId: number, nameValue: Amf0Value, _type: Amf0Value): Promise<void> {
    const target = this.resolvePath(nameValue);
    if (target === null || this.publisher !== null || this.subscriber !== null || this.publishPending) {
      this.sendStatus(streamId, 'error', 'NetStream.Publish.BadName', 'invalid publish');
      return;
    }
    let held: RtmpMessage[] = [];
    if (this.opts.publishGate) {
      this.publishPending = true;
      this.held = { msgs: [], bytes: 0 };
      const ip = this.socket.remoteAddress ?? '';
      const verdict = await this.opts.publishGate({ path: target.path, query: target.query, ip, protocol: 'rtmp' }).finally(() => {
        this.publishPending = false;
        held = this.held?.msgs ?? [];
        this.held = null;
      });
      if (this.closedFlag) return;
      if (!verdict.allow) {
        this.log.warn({ streamPath: target.path, reason: verdict.reason }, 'publish refused');
        this.sendStatus(streamId, 'error', verdict.status, verdict.reason);
        this.socket.end();
        return;
      }
    }
    try {
      const info = target.query.length > 0
        ? { protocol: 'rtmp', remote: this.remote, query: redactedQuery(target.query) }
        : { protocol: 'rtmp', remote: this.remote };
      this.publisher = this.opts.hub.publish(target.path, info);
    } catch (err) {
      const busy = err instanceof StreamBusyError;
      this.log.info({ streamPath: target.path, code: err instanceof MediaError ? err.code : undefined }, 'publish refused');
      this.sendStatus(streamId, 'error', 'NetStream.Publish.BadName', busy ? 'stream already publishing' : 'invalid stream name');
      return;
    }
    this.publishStreamId = streamId;
    this.log = this.log.child({ streamPath: target.path });
    const pub = this.publisher;
    pub.on('close', (reason) => {
      if (this.publisher === pub) {
        this.publisher = null;
        if (reason === 'hub closed') this.close(reason, 'debug');
      }
    });
    this.send(userControlMessage(UserControlEvent.StreamBegin, streamId));
    this.sendStatus(streamId, 'status', 'NetStream.Publish.Start', `${target.path} is now published.`);
    for (const msg of held) this.onMessage(msg);
  }

  private async onPlay(streamId: number, nameValue: Amf0Value): Promise<void> {
    const target = this.resolvePath(nameValue);
    if (target === null || this.publisher !== null || this.subscriber !== null) {
      this.sendStatus(streamId, 'error', 'NetStream.Play.Failed', 'invalid play');
      return;
    }
    const info = target.query.length > 0
      ? { protocol: 'rtmp', remote: this.remote, query: redactedQuery(target.query) }
      : { protocol: 'rtmp', remote: this.remote };
    const busy = this.admission.admit();
    if (busy !== null) {
      this.log.warn({ streamPath: target.path, reason: busy }, 'player refused: server busy');
      this.sendStatus(streamId, 'error', 'NetStream.Play.Failed', 'server busy');
      this.socket.end();
      return;
    }
    const hub = this.opts.hub;
    let sub: Subscriber | null = null;
    try {
      sub = hub.hasMissingStreamHandler
        ? await hub.subscribeOrWait(target.path, info, this.opts.playWaitMs ?? 5_000, this.opts.subscriber)
        : hub.subscribe(target.path, info, this.opts.subscriber);
    } finally {
      if (sub === null) this.admission.release();
      else sub.once('close', () => this.admission.release());
    }
    if (this.closedFlag) {
      sub?.close('player disconnected');
      return;
    }
    if (sub === null) {
      this.sendStatus(streamId, 'error', 'NetStream.Play.StreamNotFound', `${target.path} not found`);
      return;
    }
    this.subscriber = sub;
    this.playStreamId = streamId;
    this.log = this.log.child({ streamPath: target.path });
    this.socket.setTimeout(0);
    this.send(userControlMessage(UserControlEvent.StreamBegin, streamId));
    this.sendStatus(streamId, 'status', 'NetStream.Play.Reset', `Playing and resetting ${target.path}.`);
    this.sendStatus(streamId, 'status', 'NetStream.Play.Start', `Started playing ${target.path}.`);
    this.send({
      csid: Csid.Data,
      type: T.DataAmf0,
      streamId,
      timestamp: 0,
      payload: encodeAmf0('|RtmpSampleAccess', true, true),
    });
    this.log.info('rtmp play started');
    const rebaser = new TimestampRebaser();
    let endReason = 'closed';
    sub.once('close', (reason) => {
      endReason = reason;
      // The pump may be waiting for 'drain' on a full socket: close now.
      if (reason === 'too slow' || reason === 'hub closed') this.close(`player ${reason}`, 'debug');
    });
    await pumpMerged(
      sub,
      { writeBatch: (tags) => this.sendTags(tags, streamId, rebaser), drained: () => waitDrain(this.socket) },
      this.opts.mergeWriteMs ?? DEFAULT_MERGE_WRITE_MS,
    );
    // Media went out as self-contained type-0 messages the encoder did not see.
    for (const csid of [Csid.Audio, Csid.Video, Csid.Data]) this.encoder.forget(csid);
    if (this.subscriber === sub) this.subscriber = null;
    if (this.closedFlag || endReason === 'player stopped') return; // closeStream/deleteStream: the client may play again
    if (endReason === 'unpublished') {
      this.sendStatus(streamId, 'status', 'NetStream.Play.UnpublishNotify', `${target.path} is now unpublished.`);
      this.send(userControlMessage(UserControlEvent.StreamEof, streamId));
      this.socket.end();
      return;
    }
    this.close(`play ended: ${endReason}`, 'debug');
  }

  /** A merged batch as shared, self-contained RTMP messages in one write. */
  private sendTags(tags: readonly MediaTag[], streamId: number, rebaser: TimestampRebaser): boolean {
    const chunkSize = this.encoder.chunkSize;
    const parts = tags.map((tag) => sharedRtmpMessage(tag, rebaser.map(tag), chunkSize, streamId));
    return writeParts(this.socket, parts, PLAY_HIGH_WATER_BYTES);
  }

  private stopStream(streamId: number): void {
    if (this.publisher !== null && streamId === this.publishStreamId) {
      const pub = this.publisher;
      this.publisher = null;
      pub.close('unpublished');
      this.sendStatus(streamId, 'status', 'NetStream.Unpublish.Success', `${pub.path} is now unpublished.`);
    }
    if (this.subscriber !== null && streamId === this.playStreamId) {
      const sub = this.subscriber;
      this.subscriber = null;
      sub.close('player stopped');
    }
  }
}

function u16(b: Uint8Array, o: number): number {
  return ((b[o] as number) << 8) | (b[o + 1] as number);
}

function u32(b: Uint8Array, o: number): number {
  return (((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number)) >>> 0;
}
