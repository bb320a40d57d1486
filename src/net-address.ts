/**
 * Pure parsing of listen/dial addresses and CIDR matching. No I/O.
 */
import net from 'node:net';

/** A parsed listen address. `host` null means "all interfaces". */
export interface ListenAddress {
  host: string | null;
  port: number;
}

/**
 * Parses ":port", "host:port" or "[v6]:port". Port 0 asks the OS for a free port.
 * Returns an error string instead of throwing.
 */
export function parseListenAddress(text: string): ListenAddress | string {
  const m = /^(?:\[([0-9a-fA-F:.%a-zA-Z0-9]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (!m) return `"${text}" is not a listen address (use ":port", "host:port" or "[v6]:port")`;
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return `"${text}": port ${m[3]} is out of range 0-65535`;
  const v6 = m[1];
  if (v6 !== undefined) {
    if (net.isIPv6(v6)) return { host: v6, port };
    return `"${text}": "${v6}" is not an IPv6 address`;
  }
  const host = m[2] ?? '';
  if (host === '') return { host: null, port };
  if (net.isIPv4(host) || /^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,251}[a-zA-Z0-9])?$/.test(host)) return { host, port };
  return `"${text}": "${host}" is not a host name or IP address`;
}

/** Parses "host:port" / "[v6]:port" for dialing (host required, port 1-65535). */
export function parseDialAddress(text: string): { host: string; port: number } | string {
  const r = parseListenAddress(text);
  if (typeof r === 'string') return r.replace('listen address', 'server address ("host:port")');
  if (r.host === null) return `"${text}" has no host (use "host:port")`;
  if (r.port === 0) return `"${text}": port 0 cannot be dialed`;
  return { host: r.host, port: r.port };
}

/** Formats a listen address back for logs and URLs. */
export function formatAddress(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A parsed CIDR block, stored as a bigint network and mask. */
export interface Cidr {
  family: 4 | 6;
  network: bigint;
  prefix: number;
  text: string;
}

function ipv4ToBigint(ip: string): bigint {
  return ip.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function ipv6ToBigint(ip: string): bigint {
  let text = ip;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hextets.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1] && net.isIPv4(v4[1])) {
    const n = ipv4ToBigint(v4[1]);
    text = text.slice(0, -v4[1].length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  const parts = [...h, ...Array<string>(fill).fill('0'), ...t];
  return parts.reduce((acc, p) => (acc << 16n) | BigInt(parseInt(p, 16)), 0n);
}

/** Parses "a.b.c.d/n", "v6::/n" or a bare address (a /32 or /128). Returns an error string when invalid. */
export function parseCidr(text: string): Cidr | string {
  const bad = `"${text}" is not a CIDR`;
  const [addr = '', prefixText, extra] = text.trim().split('/');
  if (extra !== undefined) return bad;
  const family = net.isIPv4(addr) ? 4 : net.isIPv6(addr) ? 6 : 0;
  if (family === 0) return bad;
  const bits = family === 4 ? 32 : 128;
  let prefix = bits;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText)) return bad;
    prefix = Number(prefixText);
    if (prefix > bits) return bad;
  }
  const value = family === 4 ? ipv4ToBigint(addr) : ipv6ToBigint(addr);
  const mask = prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix);
  return { family, network: value & mask, prefix, text: text.trim() };
}

/** True when `ip` (v4, v6 or v4-mapped v6) lies in `cidr`. */
export function cidrContains(cidr: Cidr, ip: string): boolean {
  let addr = ip;
  if (addr.startsWith('::ffff:') && net.isIPv4(addr.slice(7))) addr = addr.slice(7);
  const family = net.isIPv4(addr) ? 4 : net.isIPv6(addr) ? 6 : 0;
  if (family !== cidr.family) return false;
  const bits = family === 4 ? 32 : 128;
  const value = family === 4 ? ipv4ToBigint(addr) : ipv6ToBigint(addr.split('%')[0] ?? addr);
  const mask = cidr.prefix === 0 ? 0n : ((1n << BigInt(cidr.prefix)) - 1n) << BigInt(bits - cidr.prefix);
  return (value & mask) === cidr.network;
}

/** An empty list allows everyone (as the spec's relayapi.whitelist does). */
export function allowedBy(list: readonly Cidr[], ip: string): boolean {
  return list.length === 0 || list.some((c) => cidrContains(c, ip));
}

/** A URL with its password hidden, for logs and errors (`invalid` when it does not parse). */
export function redactPassword(url: string, invalid: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return invalid;
  }
}
