/**
 * Host resolution shared by the lean server and client (the sockets are in datagram-socket.ts).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** Resolve a host name to one IP address (IPs pass through). */
export async function resolveHost(host: string): Promise<{ address: string; family: 4 | 6 }> {
  const kind = isIP(host);
  if (kind === 4 || kind === 6) return { address: host, family: kind };
  const r = await lookup(host);
  return { address: r.address, family: r.family === 6 ? 6 : 4 };
}
