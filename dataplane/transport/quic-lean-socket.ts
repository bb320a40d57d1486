/**
 * UDP socket helpers shared by the lean server and client.
 */
import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** Resolve a host name to one IP address (IPs pass through). */
export async function resolveHost(host: string): Promise<{ address: string; family: 4 | 6 }> {
  const kind = isIP(host);
  if (kind === 4 || kind === 6) return { address: host, family: kind };
  const r = await lookup(host);
  return { address: r.address, family: r.family === 6 ? 6 : 4 };
}

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

/** A bound UDP socket with large buffers and a synchronous lookup. */
export async function openUdpSocket(args: {
  family: 4 | 6;
  host: string;
  port: number;
  bufferBytes: number;
  onError: (err: Error) => void;
}): Promise<Socket> {
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
  return socket;
}

/** Close a socket and wait for its close event (bounded: dgram closes synchronously underneath). */
export function closeUdpSocket(socket: Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}
