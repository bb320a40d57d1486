// Runs when the native UDP batch addon (native/udp_batch.c) failed to build at install:
// the install goes on and the QUIC transport uses node:dgram (quic.udp: auto falls back).
process.stderr.write(
  'stream-cascade: the native UDP batch addon did not build; QUIC will use node:dgram ' +
    '(slower per datagram). Needs python3, make, a C compiler and Node headers; retry with `npm run build:native`.\n',
);
