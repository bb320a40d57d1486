/**
 * Opening a UDP socket of the configured implementation (`quic.udp`): the native batch
 * socket when its addon loads, node:dgram otherwise (or when asked for).
 */
import type { Logger } from 'pino';
import type { DatagramSocket, OpenDatagramSocketArgs, UdpImplementation } from './datagram-socket.js';
import { openDgramSocket } from './udp-dgram-socket.js';
import { loadUdpBatchAddon, openNativeSocket } from './udp-native-socket.js';

const warnedPaths = new Set<string>();

/** The implementation `implementation` stands for here: `auto` becomes native or dgram. */
export function resolveUdpImplementation(implementation: UdpImplementation, addonPath: string, logger: Logger | null): 'native' | 'dgram' {
  if (implementation === 'dgram') return 'dgram';
  const loaded = loadUdpBatchAddon(addonPath);
  if (loaded.addon !== null) return 'native';
  if (implementation === 'native') throw new Error(`quic.udp is "native" but the UDP batch addon did not load: ${loaded.error}`);
  if (!warnedPaths.has(addonPath)) {
    warnedPaths.add(addonPath);
    logger?.warn({ err: loaded.error, addonPath }, 'native UDP batch addon not loaded: QUIC uses node:dgram');
  }
  return 'dgram';
}

/** Open and bind a UDP socket of the chosen implementation. */
export async function openDatagramSocket(args: OpenDatagramSocketArgs): Promise<DatagramSocket> {
  const kind = resolveUdpImplementation(args.implementation, args.addonPath, args.logger);
  return kind === 'native' ? openNativeSocket(args) : openDgramSocket(args);
}
