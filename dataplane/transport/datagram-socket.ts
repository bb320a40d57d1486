/**
 * The UDP socket under the lean QUIC driver, behind one small interface with two
 * implementations: the native batch socket (native/udp_batch.c: recvmmsg, sendmmsg,
 * UDP GSO) and node:dgram (one system call and one allocation per datagram), the
 * fallback when the addon is missing or fails to load.
 */
import type { Logger } from 'pino';

/** Which UDP socket the lean driver uses: `auto` is native when the addon loads, else dgram. */
export type UdpImplementation = 'auto' | 'native' | 'dgram';

/** A peer address. */
export interface UdpPeer {
  host: string;
  port: number;
}

/**
 * Handler of received datagrams. `msg` is valid only during the call: the native socket
 * reuses its receive slots for the next batch (quiche's recv decrypts in place and keeps
 * nothing, so handing it `msg` synchronously is safe).
 */
export type DatagramHandler = (msg: Buffer, host: string, port: number) => void;

/** A bound UDP socket as the lean driver uses it. */
export interface DatagramSocket {
  readonly kind: 'native' | 'dgram';
  /** The bound local address. */
  address(): UdpPeer;
  /** Send to and hear from this peer only (client links). */
  connect(host: string, port: number): Promise<void>;
  /** Receives every datagram (replace before the first one arrives). */
  onMessage: DatagramHandler;
  /**
   * Send `count` datagrams: datagram i is `lens[i]` bytes at `i * stride` of `data`, all to
   * `to` (null: the connected peer). Never throws: failures go to the socket's onError.
   */
  sendBatch(data: Buffer, lens: Int32Array, count: number, stride: number, to: UdpPeer | null): void;
  /** True while the buffer of an earlier sendBatch is still referenced (then use a fresh one). */
  sendBufferBusy(): boolean;
  /** Close; resolves once the socket is closed. Safe to call twice. */
  close(): Promise<void>;
}

/** How to open a socket. */
export interface OpenDatagramSocketArgs {
  implementation: UdpImplementation;
  /** Path of the native addon (udp_batch.node). */
  addonPath: string;
  family: 4 | 6;
  host: string;
  port: number;
  /** SO_RCVBUF/SO_SNDBUF in bytes (the kernel caps them). */
  bufferBytes: number;
  onError: (err: Error) => void;
  logger: Logger | null;
}

/** Send one datagram (`len` bytes of `data`). */
export function sendOne(socket: DatagramSocket, data: Buffer, len: number, to: UdpPeer | null): void {
  const lens = new Int32Array(1);
  lens[0] = len;
  socket.sendBatch(data, lens, 1, 0, to);
}
