/**
 * The UDP socket the transport and cascade link tests run on: the native batch socket
 * (the addon must be built: `npm run build:native`), or node:dgram in the *-dgram.test.ts
 * twins, which import udp-dgram.fixture.ts before the tests they repeat.
 */
import { createLeanQuicTransport, type LeanQuicOptions, type LeanQuicTransport } from '../../dataplane/transport/index.js';

let udp: 'native' | 'dgram' = 'native';

/** Switch the tests of this process to `kind` (before their module body runs). */
export function useUdp(kind: 'native' | 'dgram'): void {
  udp = kind;
}

/** The socket implementation under test. */
export function udpUnderTest(): 'native' | 'dgram' {
  return udp;
}

/** A lean QUIC transport on the socket under test. */
export function testTransport(options: LeanQuicOptions = {}): LeanQuicTransport {
  return createLeanQuicTransport({ udp, ...options });
}
