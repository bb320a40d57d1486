/**
 * Node configuration: YAML parsed once, validated with zod, normalised and frozen.
 * Nothing else in the program reads the file or process.env for settings.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { isIP } from 'node:net';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { hasUnsafeText, UNSAFE_TEXT_MESSAGE } from '../dataplane/protocol/safe-text.js';
import { isValidPullUrl, isValidStreamPath } from '../dataplane/media/stream-path.js';
import {
  type Cidr,
  type ListenAddress,
  parseCidr,
  parseDialAddress,
  parseListenAddress,
} from './net-address.js';
import { clusterSchema, normaliseCluster, type ClusterConfig } from './cluster/cluster-config.js';

/** A user's configuration mistake: printed as one line, never with a stack trace. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A string field parsed by `parse`, which returns the value or an error message. */
function parsed<T>(parse: (text: string) => T | string) {
  return z.string().transform((text, ctx) => {
    const r = parse(text);
    if (typeof r === 'string') {
      ctx.addIssue({ code: 'custom', message: r });
      return z.NEVER;
    }
    return r;
  });
}

const listenAddr = parsed(parseListenAddress);
const dialAddr = parsed(parseDialAddress);
const cidr = parsed(parseCidr);

const fingerprint = z
  .string()
  .regex(/^sha256:[0-9a-fA-F]{64}$/, 'expected "sha256:" followed by 64 hex digits')
  .transform((s) => s.toLowerCase());

const duration = (defaultMs: number) => z.number().int().min(0).max(86_400_000).default(defaultMs);

const relayServer = z
  .strictObject({
    enable: z.boolean().default(false),
    whitelist: z.array(cidr).default([]),
    /** Addresses whose X-Forwarded-For is trusted. */
    trustedproxies: z.array(cidr).default([]),
    /** How long the lower node may take to start answering, ms. */
    timeout: duration(15_000),
    /** Largest relayed request body, bytes. */
    maxbody: z.number().int().min(0).max(1 << 30).default(16 * 1024 * 1024),
    /** Pass a lower node's Set-Cookie on to the caller (off: cookies would land on this node's origin). */
    allowsetcookie: z.boolean().default(false),
  })
  .prefault({});

const relayClient = z
  .strictObject({
    enable: z.boolean().default(false),
    whitelist: z.array(cidr).default([]),
  })
  .prefault({});

/** One entry of `cascade-client.servers`. */
const upstreamServer = z.strictObject({
  server: dialAddr,
  /** Lower is preferred; equal priorities share the load. */
  priority: z.number().int().min(0).max(1_000).default(1),
  /** Falls back to cascade-client.secret. */
  secret: z.string().min(12, 'must be at least 12 characters').max(256, 'must be at most 256 characters').optional(),
  /** Falls back to cascade-client.fingerprint / cafile (one of the two per server). */
  fingerprint: fingerprint.optional(),
  cafile: z.string().min(1).optional(),
});

const publishKey = z.string().min(8, 'must be at least 8 characters').max(256);

/** `rtmp.publish`: who may publish. */
const publishAuth = z
  .strictObject({
    /** Keys that allow publishing any path. */
    keys: z.array(publishKey).default([]),
    /** Keys per stream path ("live/cam": key or [keys]). */
    paths: z.record(z.string().refine(isValidStreamPath, 'expected stream paths like "live/camera1" as keys'), z.union([publishKey, z.array(publishKey).min(1)])).default({}),
    /** URL asked (POST JSON) before each publish: 2xx allows. */
    hook: z
      .string()
      .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), 'expected an http:// or https:// URL')
      .optional(),
    /** How long the hook may take, ms; no answer in time refuses. */
    hooktimeout: z.number().int().min(1).max(60_000).default(3_000),
  })
  .prefault({});

const pullRule = z.strictObject({
  streampath: z.string().refine(isValidStreamPath, 'expected a stream path like "live/camera1"'),
  pullurl: z.string().refine(isValidPullUrl, 'expected a URL like "cascade://live/camera1"'),
});

/** Player keys of `http` (HTTP-FLV + WS-FLV) and `rtmp`. */
const playerKeys = {
  /** Write merging window per player, ms. */
  mergewrite: z.number().int().min(0).max(1000).default(350),
  /** Most concurrent players; 0 = no cap. */
  maxplayers: z.number().int().min(0).default(0),
};

const fileSchema = z.strictObject({
  name: z.string().min(1).max(64).refine((n) => !hasUnsafeText(n), UNSAFE_TEXT_MESSAGE).optional(),
  datadir: z.string().min(1).default('./data'),
  http: z
    .strictObject({
      listenaddr: listenAddr.default({ host: null, port: 8080 }),
      /** Optional bearer token required for mutating operations. */
      token: z.string().min(8, 'must be at least 8 characters').optional(),
      /** With a token: reads need it too. */
      protectreads: z.boolean().default(false),
      /** Largest GraphQL document, bytes (checked before parsing). */
      maxquerybytes: z.number().int().min(1024).max(1024 * 1024).default(64 * 1024),
      /** Most tokens in a GraphQL document (the parser stops past it). */
      maxquerytokens: z.number().int().min(100).max(1_000_000).default(5_000),
      /** graphql-ws connections from one source address (IPv6: one /64); 0 = no bound. */
      wsperaddress: z.number().int().min(0).default(32),
      /** graphql-ws: close a connection without connection_init after, ms. */
      wsinit: z.number().int().min(100).max(60_000).default(3_000),
      /** graphql-ws: close a connection without any subscription after, ms; 0 = never. */
      wsidle: duration(60_000),
      ...playerKeys,
    })
    .prefault({}),
  rtmp: z
    .strictObject({
      listenaddr: listenAddr.default({ host: null, port: 1935 }),
      publish: publishAuth,
      ...playerKeys,
      /** Bytes one connection may hold in unfinished messages (also the largest message). */
      maxpending: z.number().int().min(65_536).max(256 * 1024 * 1024).default(8 * 1024 * 1024),
      /** Bytes all connections together may hold in unfinished messages; 0 = no bound. */
      maxpendingtotal: z.number().int().min(0).default(64 * 1024 * 1024),
      /** Connections from one source address (IPv6: one /64); 0 = no bound. */
      maxperaddress: z.number().int().min(0).default(32),
    })
    .prefault({}),
  database: z
    .strictObject({
      url: z
        .string()
        .regex(/^(pglite:\/\/.+|postgres(ql)?:\/\/.+)$/, 'expected "pglite://PATH", "pglite://memory" or "postgres://user@host:port/db"')
        .optional(),
    })
    .prefault({}),
  log: z.strictObject({ level: z.enum(LOG_LEVELS).default('info') }).prefault({}),
  /** QUIC tuning of this node's cascade links (both roles). */
  quic: z
    .strictObject({
      congestion: z.enum(['bbr', 'cubic', 'reno']).default('bbr'),
      maxudppayload: z.number().int().min(1200).max(65527).default(1350),
      /** UDP socket: native batch addon (recvmmsg/sendmmsg/GSO), node:dgram, or auto (native when it loads). */
      udp: z.enum(['auto', 'native', 'dgram']).default('auto'),
      /** Server: address validation (QUIC Retry) off, always on, or on by itself under a handshake flood. */
      retry: z.enum(['off', 'on', 'auto']).default('auto'),
    })
    .prefault({}),
  /** Stream forwarding across the cascade. */
  forwarding: z
    .strictObject({
      /** How long an on-demand pull stays after its last subscriber left, ms. */
      ondemandgrace: duration(10_000),
      /** Most on-demand pulls being opened at once on this node. */
      ondemandpending: z.number().int().min(1).max(100_000).default(64),
      /** Most on-demand pulls being opened at once for one player address. */
      ondemandperclient: z.number().int().min(1).max(100_000).default(8),
      /** How long a path that could not be pulled is answered "not found" without a new pull, ms (0: not remembered). */
      ondemandmissttl: duration(3_000),
    })
    .prefault({}),
  /** Prometheus metrics (`GET /metrics`). */
  metrics: z
    .strictObject({
      /** Serve /metrics on this address instead of the HTTP listener (no token there). */
      listenaddr: listenAddr.optional(),
      /** Stream paths with their own byte counters; the traffic of further paths counts under path="other". */
      maxstreamlabels: z.number().int().min(0).max(10_000).default(100),
    })
    .prefault({}),
  'cascade-server': z
    .strictObject({
      quic: z
        .strictObject({
          listenaddr: listenAddr.default({ host: null, port: 44944 }),
          certfile: z.string().min(1).optional(),
          keyfile: z.string().min(1).optional(),
        })
        .prefault({}),
      autoregister: z.boolean().default(true),
      /** Bounds on records created by auto-registration (0: that bound off). */
      autoregisterlimit: z
        .strictObject({
          /** Records per source address per hour. */
          peraddress: z.number().int().min(0).default(10),
          /** Records per hour in all. */
          perhour: z.number().int().min(0).default(100),
          /** Records per second in the long run. */
          rate: z.number().min(0).default(1),
          /** Records at once after a quiet period. */
          burst: z.number().int().min(1).default(20),
        })
        .prefault({}),
      /** Admission of new cascade links (token bucket; PROTOCOL.md §6 Admission). */
      admission: z
        .strictObject({
          /** Links per second in the long run; 0: no limit. */
          rate: z.number().min(0).default(100),
          /** Links at once after a quiet period. */
          burst: z.number().int().min(1).default(200),
        })
        .prefault({}),
      relayapi: relayServer,
    })
    .nullable()
    .optional(),
  cluster: clusterSchema,
  'cascade-client': z
    .strictObject({
      /** The one upper node (shorthand of a one-entry `servers`). */
      server: dialAddr.optional(),
      /** Several upper nodes: lower priority first, equal priority spread by rendezvous hashing of `name`. */
      servers: z.array(upstreamServer).min(1, 'must list at least one server').max(16, 'at most 16 servers').optional(),
      /** How long a better server must stay healthy before the link moves back to it, ms; 0: never. */
      failback: duration(30_000),
      /** How often servers other than the current one are probed (QUIC handshake, no HELLO), ms. */
      probeinterval: z.number().int().min(100).max(600_000).default(2_000),
      secret: z.string().min(12, 'must be at least 12 characters').max(256, 'must be at most 256 characters').optional(),
      /** How the upper node is verified: pinned fingerprint, CA, or trust on first use. */
      trust: z.enum(['pin', 'ca', 'tofu']).optional(),
      autopush: z.boolean().default(false),
      fingerprint: fingerprint.optional(),
      /** PEM CA bundle to verify the upper node with (instead of a fingerprint). */
      cafile: z.string().min(1).optional(),
      relayapi: relayClient,
      pull: z.array(pullRule).default([]),
      /** Local IP address the link to the upper node is sent from (multi-homed hosts). */
      localaddr: z
        .string()
        .refine((a) => isIP(a) !== 0, 'expected an IP address of this host, e.g. "10.0.0.5" or "fd00::5"')
        .optional(),
    })
    .superRefine((c, ctx) => {
      for (const s of [...(c.server ? [c.server] : []), ...(c.servers ?? []).map((x) => x.server)]) {
        const serverFamily = isIP(s.host);
        if (c.localaddr !== undefined && serverFamily !== 0 && isIP(c.localaddr) !== serverFamily) {
          ctx.addIssue({
            code: 'custom',
            path: ['localaddr'],
            message: `is IPv${isIP(c.localaddr)} but server ${s.host} is IPv${serverFamily}`,
          });
          return;
        }
      }
    })
    .optional(),
});

type FileConfig = z.output<typeof fileSchema>;

export type DatabaseConfig =
  | { kind: 'pglite'; url: string; dir: string | null }
  | { kind: 'postgres'; url: string };

interface CascadeServerConfig {
  listen: ListenAddress;
  certFile: string | null;
  keyFile: string | null;
  autoregister: boolean;
  /** Bounds on auto-registration: per source address per hour, per hour in all, rate and burst (0: off). */
  autoregisterLimit: { perAddress: number; perHour: number; ratePerSec: number; burst: number };
  admission: { ratePerSec: number; burst: number };
  relayApi: {
    enable: boolean;
    whitelist: readonly Cidr[];
    trustedProxies: readonly Cidr[];
    timeoutMs: number;
    maxBodyBytes: number;
    /** Pass a lower node's Set-Cookie on to the caller. */
    allowSetCookie: boolean;
  };
}

/** One upper node of a lower node, with its own credentials resolved (`cascade-client.servers[]`). */
interface UpstreamServerConfig {
  server: { host: string; port: number };
  priority: number;
  /** This server's secret, else the client's; null: the node key. */
  secret: string | null;
  fingerprint: string | null;
  caFile: string | null;
  trust: 'pin' | 'ca' | 'tofu';
}

interface CascadeClientConfig {
  /** The preferred upper node (the first of `servers`). */
  server: { host: string; port: number };
  /** Every upper node, in config order (one entry for the `server` shorthand). */
  servers: readonly UpstreamServerConfig[];
  /** How long a better server must stay healthy before moving back to it, ms; 0: never. */
  failbackMs: number;
  /** How often the servers other than the current one are probed, ms. */
  probeIntervalMs: number;
  secret: string | null;
  autopush: boolean;
  fingerprint: string | null;
  caFile: string | null;
  /** How the upper node is verified; `trustExplicit` false when derived (tofu by default). */
  trust: 'pin' | 'ca' | 'tofu';
  trustExplicit: boolean;
  relayApi: { enable: boolean; whitelist: readonly Cidr[] };
  pull: readonly { streamPath: string; pullUrl: string }[];
  /** Local IP address to send the link from; null: any. */
  localAddress: string | null;
}

/** The validated, normalised, frozen configuration of one node. */
/** Playback tuning of one protocol family. */
export interface PlayerConfig {
  /** Write merging window per player, ms. */
  mergeWriteMs: number;
  /** Most concurrent players; 0 = no cap. */
  maxPlayers: number;
}

/** Bounds of GraphQL documents and graphql-ws connections (`http.maxquery*`, `http.ws*`). */
interface GraphQLLimitsConfig {
  document: { maxBytes: number; maxTokens: number };
  ws: { perAddress: number; initTimeoutMs: number; idleMs: number };
}

/** Bounds of RTMP connections (`rtmp.maxpending`, `maxpendingtotal`, `maxperaddress`). */
interface RtmpLimitsConfig {
  maxPendingBytes: number;
  maxPendingTotalBytes: number;
  maxConnectionsPerAddress: number;
}

export interface Config {
  /** The file it came from, or null for built-in defaults. */
  file: string | null;
  name: string;
  /** Absolute path of the data directory. */
  datadir: string;
  http: { listen: ListenAddress; token: string | null; protectReads: boolean; graphql: GraphQLLimitsConfig } & PlayerConfig;
  rtmp: {
    listen: ListenAddress;
    limits: RtmpLimitsConfig;
    /** Who may publish; all empty/null: anyone (except on paths of lower nodes). */
    publish: { keys: readonly string[]; paths: Readonly<Record<string, readonly string[]>>; hook: string | null; hookTimeoutMs: number };
  } & PlayerConfig;
  database: DatabaseConfig;
  log: { level: LogLevel };
  /** QUIC tuning of the cascade links. */
  quic: { congestion: 'cubic' | 'reno' | 'bbr'; maxUdpPayloadBytes: number; udp: 'auto' | 'native' | 'dgram'; retry: 'off' | 'on' | 'auto' };
  forwarding: { onDemandGraceMs: number; onDemand: { maxPending: number; maxPendingPerClient: number; missTtlMs: number } };
  /** `metrics.*`: where /metrics is served (null: on the HTTP listener) and the bound on stream labels. */
  metrics: { listen: ListenAddress | null; maxStreamLabels: number };
  cascadeServer: CascadeServerConfig | null;
  cascadeClient: CascadeClientConfig | null;
  /** `cluster`: this node is one replica of a clustered upper node; null: a single node. */
  cluster: ClusterConfig | null;
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): { path: string; message: string }[] {
  const base = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => ({ path: base ? `${base}.${k}` : k, message: 'unknown key' }));
  }
  let message = issue.message;
  if (issue.code === 'invalid_type') {
    const input = valueAt(raw, issue.path);
    message = input === undefined ? 'is required' : `expected ${article(issue.expected)}, got ${typeName(input, isSecretPath(issue.path))}`;
  } else if (issue.code === 'invalid_value' && 'values' in issue) {
    message = `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return [{ path: base || '(top level)', message }];
}

function valueAt(raw: unknown, p: readonly PropertyKey[]): unknown {
  let v = raw;
  for (const k of p) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

function article(t: string): string {
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

/** Keys whose values are credentials: an error names their type, never the value. */
const SECRET_KEYS = new Set(['token', 'secret', 'keys', 'paths', 'hook', 'url', 'redis']);

function isSecretPath(p: readonly PropertyKey[]): boolean {
  return p.some((k) => typeof k === 'string' && SECRET_KEYS.has(k));
}

function typeName(v: unknown, secret = false): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return secret ? `a ${typeof v}` : `${typeof v} ${JSON.stringify(v)}`;
}

function formatPath(p: readonly PropertyKey[]): string {
  let out = '';
  for (const k of p) {
    if (typeof k === 'number') out += `[${k}]`;
    else out += out ? `.${String(k)}` : String(k);
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function resolveDatabase(url: string | undefined, datadir: string): DatabaseConfig {
  if (url === undefined) {
    const dir = path.join(datadir, 'db');
    return { kind: 'pglite', url: `pglite://${dir}`, dir };
  }
  if (url.startsWith('pglite://')) {
    const rest = url.slice('pglite://'.length);
    return { kind: 'pglite', url, dir: rest === 'memory' ? null : path.resolve(rest) };
  }
  return { kind: 'postgres', url };
}

function normalise(file: string | null, c: FileConfig, baseDir: string): Config {
  const datadir = path.resolve(baseDir, c.datadir);
  const server = c['cascade-server'];
  const client = c['cascade-client'];
  const rel = (p: string | undefined): string | null => (p === undefined ? null : path.resolve(baseDir, p));
  return deepFreeze({
    file,
    name: c.name ?? os.hostname(),
    datadir,
    http: {
      listen: c.http.listenaddr,
      token: c.http.token ?? null,
      protectReads: c.http.protectreads,
      graphql: {
        document: { maxBytes: c.http.maxquerybytes, maxTokens: c.http.maxquerytokens },
        ws: { perAddress: c.http.wsperaddress, initTimeoutMs: c.http.wsinit, idleMs: c.http.wsidle },
      },
      ...players(c.http),
    },
    rtmp: {
      listen: c.rtmp.listenaddr,
      limits: {
        maxPendingBytes: c.rtmp.maxpending,
        maxPendingTotalBytes: c.rtmp.maxpendingtotal,
        maxConnectionsPerAddress: c.rtmp.maxperaddress,
      },
      publish: {
        keys: c.rtmp.publish.keys,
        paths: Object.fromEntries(Object.entries(c.rtmp.publish.paths).map(([p, k]) => [p, typeof k === 'string' ? [k] : k])),
        hook: c.rtmp.publish.hook ?? null,
        hookTimeoutMs: c.rtmp.publish.hooktimeout,
      },
      ...players(c.rtmp),
    },
    database: resolveDatabase(c.database.url, datadir),
    log: { level: c.log.level },
    quic: { congestion: c.quic.congestion, maxUdpPayloadBytes: c.quic.maxudppayload, udp: c.quic.udp, retry: c.quic.retry },
    forwarding: {
      onDemandGraceMs: c.forwarding.ondemandgrace,
      onDemand: { maxPending: c.forwarding.ondemandpending, maxPendingPerClient: c.forwarding.ondemandperclient, missTtlMs: c.forwarding.ondemandmissttl },
    },
    metrics: { listen: c.metrics.listenaddr ?? null, maxStreamLabels: c.metrics.maxstreamlabels },
    cascadeServer: server
      ? {
          listen: server.quic.listenaddr,
          certFile: rel(server.quic.certfile),
          keyFile: rel(server.quic.keyfile),
          autoregister: server.autoregister,
          autoregisterLimit: {
            perAddress: server.autoregisterlimit.peraddress,
            perHour: server.autoregisterlimit.perhour,
            ratePerSec: server.autoregisterlimit.rate,
            burst: server.autoregisterlimit.burst,
          },
          admission: { ratePerSec: server.admission.rate, burst: server.admission.burst },
          relayApi: {
            enable: server.relayapi.enable,
            whitelist: server.relayapi.whitelist,
            trustedProxies: server.relayapi.trustedproxies,
            timeoutMs: server.relayapi.timeout,
            maxBodyBytes: server.relayapi.maxbody,
            allowSetCookie: server.relayapi.allowsetcookie,
          },
        }
      : null,
    cascadeClient: client
      ? {
          ...upstreamServers(client, rel),
          failbackMs: client.failback,
          probeIntervalMs: client.probeinterval,
          secret: client.secret ?? null,
          autopush: client.autopush,
          fingerprint: client.fingerprint ?? null,
          caFile: rel(client.cafile),
          trust: client.trust ?? (client.fingerprint ? 'pin' : client.cafile ? 'ca' : 'tofu'),
          trustExplicit: client.trust !== undefined,
          relayApi: { enable: client.relayapi.enable, whitelist: client.relayapi.whitelist },
          pull: client.pull.map((p) => ({ streamPath: p.streampath, pullUrl: p.pullurl })),
          localAddress: client.localaddr ?? null,
        }
      : null,
    cluster: normaliseCluster(c.cluster, c.name ?? os.hostname()),
  });
}

/** `servers` (or the `server` shorthand) with each server's credentials resolved; the preferred one as `server`. */
function upstreamServers(
  c: NonNullable<FileConfig['cascade-client']>,
  rel: (p: string | undefined) => string | null,
): { server: { host: string; port: number }; servers: UpstreamServerConfig[] } {
  const clientTrust = c.trust ?? (c.fingerprint ? 'pin' : c.cafile ? 'ca' : 'tofu');
  const list = c.servers ?? (c.server ? [{ server: c.server, priority: 1 }] : []);
  const servers = list.map((s): UpstreamServerConfig => {
    const own = 'fingerprint' in s && s.fingerprint ? 'pin' : 'cafile' in s && s.cafile ? 'ca' : null;
    return {
      server: s.server,
      priority: s.priority,
      secret: ('secret' in s ? s.secret : undefined) ?? c.secret ?? null,
      fingerprint: own ? (('fingerprint' in s ? s.fingerprint : undefined) ?? null) : (c.fingerprint ?? null),
      caFile: own ? rel('cafile' in s ? s.cafile : undefined) : rel(c.cafile),
      trust: own ?? clientTrust,
    };
  });
  const preferred = [...servers].sort((a, b) => a.priority - b.priority)[0];
  return { server: preferred!.server, servers };
}

/**
 * Validates a configuration object (as parsed from YAML). `label` names the
 * source in error messages. Relative paths resolve against `baseDir`.
 */
export function configFromObject(raw: unknown, label = 'config', baseDir = process.cwd()): Config {
  const parsed = fileSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.flatMap((i) => describeIssue(i, raw));
    const text = problems.map((p) => `${p.path}: ${p.message}`).join('; ');
    throw new ConfigError(`${label}: ${text}`);
  }
  const c = parsed.data;
  const server = c['cascade-server'];
  if (server && (server.quic.certfile === undefined) !== (server.quic.keyfile === undefined)) {
    throw new ConfigError(`${label}: cascade-server.quic: certfile and keyfile go together (set both or neither)`);
  }
  const cc = c['cascade-client'];
  if (cc && (cc.server === undefined) === (cc.servers === undefined)) {
    throw new ConfigError(`${label}: ${cc.server ? 'cascade-client: set server or servers, not both' : 'cascade-client.server: is required'}`);
  }
  const twice = cc?.servers?.findIndex((s, i) => cc.servers!.findIndex((o) => o.server.host === s.server.host && o.server.port === s.server.port) !== i) ?? -1;
  if (twice >= 0) throw new ConfigError(`${label}: cascade-client.servers[${twice}].server: listed twice`);
  const both = cc?.servers?.findIndex((s) => s.fingerprint && s.cafile) ?? -1;
  if (both >= 0) throw new ConfigError(`${label}: cascade-client.servers[${both}]: set fingerprint or cafile, not both`);
  if (cc?.fingerprint && cc.cafile) {
    throw new ConfigError(`${label}: cascade-client: set fingerprint or cafile, not both`);
  }
  if (cc?.trust === 'pin' && !cc.fingerprint) throw new ConfigError(`${label}: cascade-client.trust: "pin" needs cascade-client.fingerprint`);
  if (cc?.trust === 'ca' && !cc.cafile) throw new ConfigError(`${label}: cascade-client.trust: "ca" needs cascade-client.cafile`);
  if (cc?.trust === 'tofu' && (cc.fingerprint || cc.cafile)) {
    throw new ConfigError(`${label}: cascade-client.trust: "tofu" cannot go with ${cc.fingerprint ? 'fingerprint' : 'cafile'} (that is "${cc.fingerprint ? 'pin' : 'ca'}")`);
  }
  return normalise(label === 'config' ? null : label, c, baseDir);
}

/** The configuration `npm start` runs with when no file is given: cascade server role on, PGlite under ./data. */
export function defaultConfig(baseDir = process.cwd()): Config {
  return configFromObject({ 'cascade-server': {} }, 'config', baseDir);
}

/** Reads and validates a YAML file. Throws ConfigError with a one-line message. */
export function loadConfigFile(file: string): Config {
  const label = path.basename(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot read (${code ?? String(err)})`,
    );
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const pos = err.linePos?.[0];
      const where = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
      const what = (err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
      throw new ConfigError(`${label}: invalid YAML${where}: ${what}`);
    }
    throw new ConfigError(`${label}: invalid YAML: ${String(err)}`);
  }
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw))) {
    throw new ConfigError(`${label}: (top level): expected a mapping of settings`);
  }
  return configFromObject(raw, label, process.cwd());
}

function players(c: { mergewrite: number; maxplayers: number }): PlayerConfig {
  return { mergeWriteMs: c.mergewrite, maxPlayers: c.maxplayers };
}
