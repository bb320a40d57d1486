/**
 * The lean QUIC transport: quiche's native binding (from @matrixai/quic)
 * driven directly from node:dgram, behind the {@link Transport} interface.
 */
import type { ConnectOptions, Link, ListenOptions, Transport } from './link.js';
import { connectLeanQuic } from './quic-lean-client.js';
import { resolveLeanQuicOptions, type LeanQuicOptions } from './quic-lean-config.js';
import { listenLeanQuic, type LeanLinkListener } from './quic-lean-server.js';

/** A {@link Transport} whose listeners expose counters. */
export interface LeanQuicTransport extends Transport {
  listen(options: ListenOptions): Promise<LeanLinkListener>;
  connect(options: ConnectOptions): Promise<Link>;
}

/** Create a lean QUIC transport with tuning options (see {@link LeanQuicOptions} for defaults). */
export function createLeanQuicTransport(options: LeanQuicOptions = {}): LeanQuicTransport {
  const resolved = Object.freeze(resolveLeanQuicOptions(options));
  return {
    name: 'quic-lean',
    listen: (listen) => listenLeanQuic(listen, resolved),
    connect: (connect) => connectLeanQuic(connect, resolved),
  };
}

/** The lean QUIC transport with default options (idle timeout 2.5 s, keepalive 0.5 s, CUBIC, 4 MiB socket buffers). */
export const leanQuicTransport: LeanQuicTransport = createLeanQuicTransport();
