/**
 * Pure checks of the API relay (no I/O): which request targets may go down a
 * relay, which headers travel, and who the caller is.
 */
import net from 'node:net';
import { cidrContains, type Cidr } from '../net-address.js';

/** The relay route's prefix on the upper node. */
export const RELAY_PREFIX = '/api/relay';

/** A parsed `/api/relay/{instanceId}{target}` request. */
interface RelayPath {
  /** The raw instance id segment. */
  instance: string;
  /** Origin-form target on the lower node ("/api/stream/list?x=1"). */
  target: string;
}

/** Splits a raw request URL (as received, undecoded) into instance and target; null when it is not the relay route. */
export function parseRelayUrl(rawUrl: string): RelayPath | null {
  if (rawUrl !== RELAY_PREFIX && !rawUrl.startsWith(`${RELAY_PREFIX}/`) && !rawUrl.startsWith(`${RELAY_PREFIX}?`)) return null;
  const rest = rawUrl.slice(RELAY_PREFIX.length);
  const m = /^\/([^/?#]*)(.*)$/s.exec(rest);
  if (!m) return { instance: '', target: '' };
  const tail = m[2] ?? '';
  return { instance: m[1] ?? '', target: tail === '' || tail.startsWith('?') ? `/${tail}` : tail };
}

const MAX_DECODE_ROUNDS = 4;

/**
 * Why a relay target must be refused (400), or null when it is a plain origin-form
 * path on this node. Refused: anything not starting with a single "/" (absolute and
 * scheme-relative URLs), backslashes, control characters and CR/LF (raw or percent-
 * encoded, in the path), encoded slashes and dots, and "." / ".." segments in any
 * decoding, fragments.
 */
export function relayTargetProblem(target: string): string | null {
  if (target.length === 0 || target.length > 8192) return 'target path missing or too long';
  if (!target.startsWith('/') || target.startsWith('//')) return 'only a path on the lower node can be relayed (no absolute URL)';
  if (/[^\x21-\x7e]/.test(target)) return 'control characters, spaces or non-ASCII in the target';
  if (target.includes('\\')) return 'backslash in the target';
  if (target.includes('#')) return 'fragment in the target';
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  if (/^\/[a-z][a-z0-9+.-]*:/i.test(path)) return 'only a path on the lower node can be relayed (no absolute URL)';
  let decoded = path;
  for (let i = 0; i < MAX_DECODE_ROUNDS; i++) {
    if (/%(2e|2f|5c|0d|0a|00)/i.test(decoded)) return 'encoded dot, slash, backslash or control character in the target path';
    if (decoded.includes('\\')) return 'backslash in the target';
    if (/[\x00-\x1f\x7f]/.test(decoded)) return 'control characters in the target';
    if (decoded.split('/').some((seg) => seg === '..' || seg === '.')) return 'dot segments in the target path';
    if (!decoded.includes('%')) return null;
    let next: string;
    try {
      next = decodeURIComponent(decoded);
    } catch {
      return 'bad percent-encoding in the target path';
    }
    if (next === decoded) return null;
    decoded = next;
  }
  return 'target path encoded too many times';
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) and others that belong to one connection. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'host',
  'http2-settings',
]);

/** Headers only the relay itself may set between a node and its own HTTP listener. */
export const RELAY_INTERNAL_HEADER = {
  token: 'x-stream-cascade-relay-token',
  caller: 'x-stream-cascade-relay-caller',
} as const;

/** The header a caller uses to pass the next node's own admin token (it becomes `authorization` one hop down). */
export const RELAY_AUTHORIZATION_HEADER = 'x-relay-authorization';

/**
 * Headers of a message (`rawHeaders` pairs) minus hop-by-hop ones (and every `Proxy-*`),
 * those named in `Connection`, the relay's internal ones, and `drop`.
 */
export function endToEndHeaders(raw: readonly string[], drop: readonly string[] = []): Array<[string, string]> {
  const named = new Set<string>([...HOP_BY_HOP, RELAY_INTERNAL_HEADER.token, RELAY_INTERNAL_HEADER.caller, ...drop]);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if ((raw[i] ?? '').toLowerCase() === 'connection') {
      for (const t of (raw[i + 1] ?? '').split(',')) if (t.trim()) named.add(t.trim().toLowerCase());
    }
  }
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? '';
    const lower = name.toLowerCase();
    if (!named.has(lower) && !lower.startsWith('proxy-')) out.push([name, raw[i + 1] ?? '']);
  }
  return out;
}

/**
 * The headers the upper node sends its caller for a relayed answer: end-to-end ones
 * only (no Connection, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade),
 * one plain Content-Length or none (then the body goes chunked: never both), and no
 * Set-Cookie unless `allowSetCookie` (a lower node must not set cookies on the upper
 * node's origin).
 */
export function relayResponseHeaders(headers: readonly (readonly [string, string])[], allowSetCookie: boolean): Array<[string, string]> {
  const kept = endToEndHeaders(headers.flat(), allowSetCookie ? [] : ['set-cookie']);
  const lengths = kept.filter(([k]) => k.toLowerCase() === 'content-length');
  const lengthOk = lengths.length === 1 && /^\d{1,15}$/.test(lengths[0]?.[1].trim() ?? '');
  return lengthOk ? kept : kept.filter(([k]) => k.toLowerCase() !== 'content-length');
}

/** "::ffff:1.2.3.4" → "1.2.3.4"; other addresses unchanged. */
export function plainAddress(ip: string): string {
  return ip.startsWith('::ffff:') && net.isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
}

function inAny(list: readonly Cidr[], ip: string): boolean {
  return list.some((c) => cidrContains(c, ip));
}

/** One X-Forwarded-For entry as an address ("1.2.3.4", "[::1]:80", "1.2.3.4:5"), or null. */
function forwardedAddress(entry: string): string | null {
  const e = entry.trim();
  if (net.isIP(e)) return plainAddress(e);
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(e);
  if (v6?.[1] && net.isIPv6(v6[1])) return plainAddress(v6[1]);
  const v4 = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(e);
  if (v4?.[1] && net.isIPv4(v4[1])) return v4[1];
  return null;
}

/**
 * The caller of a request: the TCP peer, unless the peer is a trusted proxy and sent
 * X-Forwarded-For; then the rightmost address in it that is not a trusted proxy
 * (stopping at an unparsable entry).
 */
export function callerAddress(peer: string, xForwardedFor: string | string[] | undefined, trustedProxies: readonly Cidr[]): string {
  let caller = plainAddress(peer);
  if (xForwardedFor === undefined || !inAny(trustedProxies, caller)) return caller;
  const entries = (Array.isArray(xForwardedFor) ? xForwardedFor.join(',') : xForwardedFor).split(',');
  for (let i = entries.length - 1; i >= 0; i--) {
    const a = forwardedAddress(entries[i] ?? '');
    if (a === null) break;
    caller = a;
    if (!inAny(trustedProxies, a)) break;
  }
  return caller;
}

/** True for loopback addresses (the node talking to its own listener). */
export function isLoopback(ip: string): boolean {
  const a = plainAddress(ip);
  return a === '::1' || (net.isIPv4(a) && a.startsWith('127.'));
}
