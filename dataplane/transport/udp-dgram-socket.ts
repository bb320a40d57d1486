/**
 * The node:dgram implementation of {@link DatagramSocket}: one send call per datagram,
 * one receive callback and one fresh Buffer per datagram.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import type { DatagramHandler, DatagramSocket, OpenDatagramSocketArgs, UdpPeer } from './datagram-socket.js';

/**
 * dgram's `lookup` that answers synchronously: every destination we send to is
 * already an IP, and the default asynchronous lookup would defer the send past
 * the point where quiche's send buffer is reused.
 */
function syncLookup(
  address: string,
  family: unknown,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  callback(null, address, isIP(address) === 6 ? 6 : 4);
}

class DgramSocket implements DatagramSocket {
  readonly kind = 'dgram' as const;
  onMessage: DatagramHandler = () => undefined;
  private readonly socket: Socket;
  private readonly onError: (err: Error) => void;
  private connected = false;
  private closing: Promise<void> | null = null;

  constructor(socket: Socket, onError: (err: Error) => void) {
    this.socket = socket;
    this.onError = onError;
    socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.onMessage(msg, rinfo.address, rinfo.port));
  }

  address(): UdpPeer {
    const a = this.socket.address();
    return { host: a.address, port: a.port };
  }

  connect(host: string, port: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.socket.once('error', reject);
      // Node hands a connect failure (e.g. ENETUNREACH: no route) to this callback,
      // not to the 'error' event: ignoring it left an unconnected socket whose next
      // send threw from a setImmediate and crashed the process.
      this.socket.connect(port, host, (err?: Error) => {
        this.socket.off('error', reject);
        if (err) {
          reject(err);
        } else {
          this.connected = true;
          resolve();
        }
      });
    });
  }

  sendBatch(data: Buffer, lens: Int32Array, count: number, stride: number, to: UdpPeer | null): void {
    let at = 0;
    for (let i = 0; i < count; i++) {
      const len = lens[i] ?? 0;
      const off = stride > 0 ? i * stride : at;
      at = off + len;
      try {
        if (this.connected || to === null) this.socket.send(data, off, len, this.onSent);
        else this.socket.send(data, off, len, to.port, to.host, this.onSent);
      } catch (err) {
        // A socket that lost its connection throws synchronously: the link's idle
        // timeout ends it; the process must never die of a send.
        this.onError(err as Error);
      }
    }
  }

  private readonly onSent = (err: Error | null): void => {
    if (err) this.onError(err);
  };

  sendBufferBusy(): boolean {
    return this.socket.getSendQueueCount() > 0;
  }

  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closing = new Promise<void>((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    });
    return this.closing;
  }
}

/** A bound node:dgram socket with large buffers and a synchronous lookup. */
export async function openDgramSocket(args: OpenDatagramSocketArgs): Promise<DatagramSocket> {
  const socket = createSocket({
    type: args.family === 6 ? 'udp6' : 'udp4',
    recvBufferSize: args.bufferBytes,
    sendBufferSize: args.bufferBytes,
    lookup: syncLookup,
  });
  await new Promise<void>((resolve, reject) => {
    const onErr = (err: Error): void => reject(err);
    socket.once('error', onErr);
    socket.bind({ address: args.host, port: args.port, exclusive: true }, () => {
      socket.off('error', onErr);
      resolve();
    });
  });
  socket.on('error', args.onError);
  return new DgramSocket(socket, args.onError);
}
