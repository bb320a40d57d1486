/**
 * Client endpoint of the lean driver: one connected UDP socket per link,
 * server verification by CA or by pinned fingerprint before the link is
 * handed out (so nothing is sent on it before the check).
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { CASCADE_ALPN, LinkCloseCode, type ConnectOptions, type Link, type LinkCloseInfo } from './link.js';
import { fingerprintOfDer, requireFingerprint } from './certs.js';
import { buildNativeConfig, type ResolvedLeanQuicOptions } from './quic-lean-config.js';
import { LeanConnection, type LeanConnectionHost } from './quic-lean-connection.js';
import { openDatagramSocket } from './udp-socket.js';
import { resolveHost } from './quic-lean-socket.js';
import { native, type NativeHostPort } from './quic-native.js';

/** Default handshake timeout in ms. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000; // 5 seconds
/** Default server name (SNI) presented by the client. */
export const DEFAULT_SERVER_NAME = 'stream-cascade';
const CLIENT_CID_LEN = 16;

/** Error of a refused connect(): pin mismatch, TLS failure, timeout. `info` says how the link ended. */
export class LinkConnectError extends Error {
  readonly info: LinkCloseInfo;
  constructor(message: string, info: LinkCloseInfo) {
    super(message);
    this.name = 'LinkConnectError';
    this.info = info;
  }
}

/** Connect to a cascade server; resolves once TLS is done and the server is verified. */
export async function connectLeanQuic(options: ConnectOptions, opts: ResolvedLeanQuicOptions): Promise<Link> {
  const pin = options.fingerprint === undefined ? null : requireFingerprint(options.fingerprint);
  // Checked here after the CA chain (BoringSSL would check a DNS name only, never an IP).
  const verifyHost = options.caPem !== undefined && options.verifyHost !== undefined ? options.verifyHost : null;
  const idleTimeoutMs = options.maxIdleTimeoutMs ?? opts.maxIdleTimeoutMs;
  const keepAliveMs = options.keepAliveIntervalMs ?? opts.keepAliveIntervalMs;
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const { address, family } = await resolveHost(options.host);
  const config = buildNativeConfig({ role: 'client', caPem: options.caPem ?? null }, opts, idleTimeoutMs);
  const log = opts.logger;
  let conn: LeanConnection | null = null;
  const localAddress = options.localAddress ?? (family === 6 ? '::' : '0.0.0.0');
  const localFamily = isIP(localAddress);
  if (localFamily !== family) {
    throw new Error(
      localFamily === 0
        ? `local address "${localAddress}" is not an IP address`
        : `local address ${localAddress} is IPv${localFamily} but the server ${address} is IPv${family}`,
    );
  }
  const socket = await openDatagramSocket({
    implementation: opts.udp,
    addonPath: opts.udpAddonPath,
    family,
    host: localAddress,
    port: 0,
    bufferBytes: opts.socketBufferBytes,
    // Failed sends and socket errors: the link's idle timeout ends a peer we can no longer reach.
    onError: (err) => log?.debug({ err: err.message }, 'cascade QUIC client socket error'),
    logger: log,
  });
  // A connected socket sends synchronously (no lookup) and only hears from the server.
  try {
    await socket.connect(address, options.port);
  } catch (e) {
    await socket.close();
    throw e;
  }
  const local: NativeHostPort = socket.address();
  const remote: NativeHostPort = { host: address, port: options.port };

  return new Promise<Link>((resolve, reject) => {
    let settled = false;
    const settle = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err !== null) reject(err);
      else if (conn !== null) resolve(conn);
    };
    const host: LeanConnectionHost = {
      sendDatagrams(buf, lens, count, stride) {
        socket.sendBatch(buf, lens, count, stride, null);
      },
      sendBufferBusy() {
        return socket.sendBufferBusy();
      },
      onEstablished(c) {
        const leaf = c.native.peerCertChain()?.[0];
        c.peerFingerprint = leaf === undefined ? null : fingerprintOfDer(leaf);
        const alpn = Buffer.from(c.native.applicationProto()).toString('utf8');
        let failure: LinkCloseInfo | null = null;
        if (alpn !== CASCADE_ALPN) {
          failure = { code: LinkCloseCode.TlsFailure, reason: `unexpected ALPN "${alpn}"`, remote: false };
        } else if (verifyHost !== null && leaf !== undefined && !certificateNames(leaf, verifyHost)) {
          failure = {
            code: LinkCloseCode.TlsFailure,
            reason: `server certificate is not valid for ${verifyHost} (${describeNames(leaf)})`,
            remote: false,
          };
        } else if (pin !== null && c.peerFingerprint !== pin) {
          failure = {
            code: LinkCloseCode.FingerprintMismatch,
            reason: `server certificate fingerprint mismatch: expected ${pin}, got ${c.peerFingerprint ?? 'no certificate'}`,
            remote: false,
          };
        }
        if (failure !== null) {
          // Close after this turn's send loop has sent our handshake Finished: the server then
          // completes its handshake and sees the application close code and reason (an
          // application close during the handshake reaches the peer as a bare APPLICATION_ERROR).
          const f = failure;
          setImmediate(() => c.fail(f));
          settle(new LinkConnectError(failure.reason, failure));
          return;
        }
        c.isOpen = true;
        settle(null);
      },
      onLinkEnded(_c, info) {
        settle(new LinkConnectError(`connect to ${options.host}:${options.port} failed: ${info.reason}`, info));
      },
      onFinalized() {
        socket.onMessage = () => undefined;
        void socket.close();
      },
    };
    const timer = setTimeout(() => {
      const info: LinkCloseInfo = {
        code: LinkCloseCode.TransportError,
        reason: `handshake with ${options.host}:${options.port} timed out after ${connectTimeoutMs} ms`,
        remote: false,
      };
      conn?.fail(info);
      settle(new LinkConnectError(info.reason, info));
    }, connectTimeoutMs);
    try {
      const nativeConn = native.Connection.connect(
        verifyHost !== null ? null : (options.serverName ?? DEFAULT_SERVER_NAME),
        randomBytes(CLIENT_CID_LEN),
        local,
        remote,
        config,
      );
      conn = new LeanConnection({
        native: nativeConn,
        host,
        options: opts,
        local,
        remote,
        isServer: false,
        idleTimeoutMs,
        keepAliveIntervalMs: keepAliveMs,
        logger: log,
      });
    } catch (e) {
      clearTimeout(timer);
      void socket.close();
      reject(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    socket.onMessage = (msg) => conn?.receive(msg, remote);
    conn.scheduleFlush();
  });
}

/** Whether the DER certificate `leaf` is valid for `host` (a DNS name, or an IP address matched against IP SANs). */
function certificateNames(leaf: Uint8Array, host: string): boolean {
  try {
    const cert = new X509Certificate(leaf);
    return isIP(host) !== 0 ? cert.checkIP(host) !== undefined : cert.checkHost(host) !== undefined;
  } catch {
    return false;
  }
}

function describeNames(leaf: Uint8Array): string {
  try {
    const cert = new X509Certificate(leaf);
    return cert.subjectAltName ? `it names ${cert.subjectAltName}` : `its subject is ${cert.subject.replace(/\n/g, ', ')}`;
  } catch {
    return 'unreadable certificate';
  }
}
