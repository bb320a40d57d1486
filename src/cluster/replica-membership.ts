/**
 * One replica's presence in the cluster, kept in Redis:
 *
 * - `P:lease:NAME`  this replica's lease (JSON facts, TTL `leaseTtlMs`), renewed every third of it;
 * - `P:replicas`    every replica that joined (a set), to find the dead ones;
 * - `P:links`       which replica holds each lower node's link (hash clientId → replica);
 * - `P:bus`         the channel of everything replicas tell each other (events, kicks).
 *
 * A replica whose lease lapsed is dead: one survivor (a `P:reap:NAME` lock) takes its
 * links out of `P:links` and hands their ids to `onReplicaDown`, which marks them
 * offline. A link held by a dead replica is never shown as held.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ConfigError } from '../config.js';
import type { Logger } from '../logger.js';
import type { ClusterConfig } from './cluster-config.js';
import { closeRedis, connectRedis } from './redis-connection.js';
import { decode, encode } from './bus-codec.js';

/** A live replica as the others see it. */
export interface ReplicaFacts {
  replica: string;
  /** Its node name (`name:`; request chains hold node names). */
  node: string;
  /** Its HTTP base URL (for forwarded requests), once it listens. */
  http: string | null;
  /** Its cascade server's QUIC address and certificate fingerprint (stream links between replicas). */
  quic: { host: string; port: number } | null;
  fingerprint: string | null;
  startedAt: string;
}

/** A message on the cluster's channel. */
type BusMessage = { from: string; type: string } & Record<string, unknown>;

/** Deletes `KEYS[1]`'s field `ARGV[1]` only while it still names `ARGV[2]`. */
const HDEL_IF = `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) else return 0 end`;

interface MembershipOptions {
  config: ClusterConfig;
  /** This node's name. */
  nodeName: string;
  logger: Logger;
  /** The links this replica holds now (re-published with every renewal). */
  localLinks: () => readonly number[];
  /** The lease had to be taken again (Redis lost it): what this replica stored must be stored again. */
  onRejoined?: () => void;
  /** A replica is no longer live (seen by this replica). */
  onPeerDown?: (replica: string) => void;
  /** A dead replica's links were taken from it: mark these clients offline. Runs on one survivor. */
  onReplicaDown: (replica: string, clientIds: number[]) => Promise<void>;
}

export class ReplicaMembership {
  readonly replica: string;
  private readonly p: string;
  private readonly ttl: number;
  private readonly log: Logger;
  private facts: ReplicaFacts;
  private live = new Map<string, ReplicaFacts>();
  private readonly handlers = new Map<string, (m: BusMessage) => void>();
  private renewTimer: NodeJS.Timeout | null = null;
  private watchTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Tells this process's lease from that of an earlier process of the same name. */
  private readonly token = randomBytes(8).toString('hex');

  private constructor(
    private readonly cmd: Redis,
    private readonly sub: Redis,
    private readonly opts: MembershipOptions,
  ) {
    this.replica = opts.config.replica;
    this.p = opts.config.prefix;
    this.ttl = opts.config.leaseTtlMs;
    this.log = opts.logger.child({ replica: this.replica });
    this.facts = { replica: this.replica, node: opts.nodeName, http: null, quic: null, fingerprint: null, startedAt: new Date().toISOString() };
  }

  /** Connects to Redis, takes this replica's lease (waiting out one left by a dead process of the same name) and starts renewing it. */
  static async join(opts: MembershipOptions): Promise<ReplicaMembership> {
    const cmd = await connectRedis(opts.config.redisUrl, 'commands', opts.logger);
    let sub: Redis | null = null;
    try {
      sub = await connectRedis(opts.config.redisUrl, 'events', opts.logger);
      const m = new ReplicaMembership(cmd, sub, opts);
      await m.subscribe();
      await m.acquire();
      m.renewTimer = setInterval(() => void m.renew(), Math.max(200, Math.floor(m.ttl / 3)));
      m.watchTimer = setInterval(() => void m.watch(), 1_000);
      await m.watch();
      return m;
    } catch (err) {
      await closeRedis(cmd);
      if (sub) await closeRedis(sub);
      throw err;
    }
  }

  private key(...parts: (string | number)[]): string {
    return [this.p, ...parts].join(':');
  }

  private leaseValue(): string {
    return JSON.stringify({ ...this.facts, token: this.token });
  }

  private async acquire(): Promise<void> {
    const deadline = Date.now() + this.ttl + 1_000;
    for (;;) {
      const ok = await this.cmd.set(this.key('lease', this.replica), this.leaseValue(), 'PX', this.ttl, 'NX');
      if (ok) break;
      if (Date.now() > deadline) {
        throw new ConfigError(`cluster.replica: a live replica is named "${this.replica}" already (each replica needs its own name)`);
      }
      this.log.info({ ttlMs: this.ttl }, 'cluster: waiting for the lease of an earlier process of this replica to lapse');
      await new Promise((r) => setTimeout(r, 500));
    }
    await this.cmd.sadd(this.key('replicas'), this.replica);
    // Links an earlier process of this name held are not held by this one.
    await this.dropLinksOf(this.replica);
    this.log.info({ leaseTtlMs: this.ttl }, 'cluster: joined');
  }

  /** Renews the lease and re-publishes the links held here; takes the lease again if Redis lost it (restart). */
  private async renew(): Promise<void> {
    if (this.closed) return;
    try {
      const leaseKey = this.key('lease', this.replica);
      const renewed = await this.cmd.set(leaseKey, this.leaseValue(), 'PX', this.ttl, 'XX');
      if (renewed === null) {
        await this.cmd.set(leaseKey, this.leaseValue(), 'PX', this.ttl);
        this.log.warn('cluster: lease was gone (Redis restarted or this replica stalled); taken again');
        this.opts.onRejoined?.();
      }
      const links = this.opts.localLinks();
      const pipe = this.cmd.pipeline().sadd(this.key('replicas'), this.replica);
      if (links.length > 0) pipe.hset(this.key('links'), Object.fromEntries(links.map((id) => [String(id), this.replica])));
      await pipe.exec();
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'cluster: lease renewal failed');
    }
  }

  /** Reads the live replicas; reaps those whose lease lapsed. */
  private async watch(): Promise<void> {
    if (this.closed) return;
    try {
      const names = await this.cmd.smembers(this.key('replicas'));
      const values = names.length > 0 ? await this.cmd.mget(names.map((n) => this.key('lease', n))) : [];
      const live = new Map<string, ReplicaFacts>();
      const dead: string[] = [];
      names.forEach((n, i) => {
        const v = values[i];
        if (v) live.set(n, JSON.parse(v) as ReplicaFacts);
        else if (n !== this.replica) dead.push(n);
      });
      live.set(this.replica, this.facts);
      for (const n of [...this.live.keys()]) if (!live.has(n)) this.forget(n);
      for (const n of live.keys()) if (!this.live.has(n) && n !== this.replica) this.log.info({ peer: n }, 'cluster: replica up');
      this.live = live;
      for (const d of dead) await this.reap(d);
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'cluster: reading the replicas failed');
    }
  }

  private async reap(dead: string): Promise<void> {
    const won = await this.cmd.set(this.key('reap', dead), this.replica, 'PX', 30_000, 'NX');
    if (!won) return;
    this.forget(dead);
    await this.broadcast('down', { replica: dead });
    const ids = await this.dropLinksOf(dead);
    try {
      await this.opts.onReplicaDown(dead, ids);
    } finally {
      await this.cmd.srem(this.key('replicas'), dead);
      await this.cmd.del(this.key('state', dead), this.key('reap', dead));
    }
    this.log.warn({ peer: dead, links: ids.length }, 'cluster: dead replica reaped; its lower nodes are offline until they reconnect');
  }

  private forget(replica: string): void {
    if (!this.live.delete(replica)) return;
    this.log.warn({ peer: replica }, 'cluster: replica lease lapsed (replica down)');
    this.opts.onPeerDown?.(replica);
  }

  /** Removes the links `replica` holds; returns their client ids (a link another replica took meanwhile stays). */
  private async dropLinksOf(replica: string): Promise<number[]> {
    const all = await this.cmd.hgetall(this.key('links'));
    const ids: number[] = [];
    for (const [id, holder] of Object.entries(all)) {
      if (holder === replica && (await this.cmd.eval(HDEL_IF, 1, this.key('links'), id, replica)) === 1) ids.push(Number(id));
    }
    return ids;
  }

  /** Takes or keeps the role `name` for `ms` (one replica at a time holds it): true while this replica holds it. */
  async holdRole(name: string, ms: number): Promise<boolean> {
    const key = this.key('role', name);
    if (await this.cmd.set(key, this.replica, 'PX', ms, 'NX')) return true;
    if ((await this.cmd.get(key)) !== this.replica) return false;
    await this.cmd.pexpire(key, ms);
    return true;
  }

  get leaseTtlMs(): number {
    return this.ttl;
  }

  /** Live replicas (this one included), as of the last look (once a second). */
  replicas(): ReplicaFacts[] {
    return [...this.live.values()].sort((a, b) => a.replica.localeCompare(b.replica));
  }

  isLive(replica: string): boolean {
    return this.live.has(replica);
  }

  /** The live replica's facts (as of the last look). */
  factsOf(replica: string): ReplicaFacts | undefined {
    return this.live.get(replica);
  }

  /** Tells the others where this replica's listeners are. */
  advertise(facts: Partial<Pick<ReplicaFacts, 'http' | 'quic' | 'fingerprint'>>): void {
    this.facts = { ...this.facts, ...facts };
    this.live.set(this.replica, this.facts);
    void this.renew();
  }

  /** The replica holding client `id`'s link, if it is live. */
  async holderOf(id: number): Promise<string | null> {
    const h = await this.cmd.hget(this.key('links'), String(id));
    return h !== null && this.isLive(h) ? h : null;
  }

  /** Every held link (client id → live replica). */
  async holders(): Promise<Map<number, string>> {
    const all = await this.cmd.hgetall(this.key('links'));
    return new Map(Object.entries(all).filter(([, r]) => this.isLive(r)).map(([id, r]) => [Number(id), r]));
  }

  /** This replica now holds client `id`'s link. */
  async claimLink(id: number): Promise<void> {
    await this.cmd.hset(this.key('links'), String(id), this.replica);
  }

  /** This replica's link of client `id` ended: true when it was the holder (false: another replica holds it now). */
  async releaseLink(id: number): Promise<boolean> {
    const n = await this.cmd.eval(HDEL_IF, 1, this.key('links'), String(id), this.replica);
    if (n === 1) return true;
    return (await this.cmd.hexists(this.key('links'), String(id))) === 0;
  }

  /** Stores what this replica has that the others show (its streams and tree), until it leaves or is reaped. */
  async setState(state: unknown): Promise<void> {
    await this.cmd.set(this.key('state', this.replica), encode(state));
  }

  /** The states the other live replicas stored (absent: none stored yet). */
  async otherStates(): Promise<Map<string, unknown>> {
    const others = [...this.live.keys()].filter((n) => n !== this.replica);
    if (others.length === 0) return new Map();
    const values = await this.cmd.mget(others.map((n) => this.key('state', n)));
    const out = new Map<string, unknown>();
    others.forEach((n, i) => {
      const v = values[i];
      if (v) out.set(n, decode(v));
    });
    return out;
  }

  /** Sends a message to every other replica (at most once each; none while Redis is away). */
  async broadcast(type: string, body: Record<string, unknown>): Promise<void> {
    await this.cmd.publish(this.key('bus'), encode({ ...body, from: this.replica, type }));
  }

  /** Handles messages of `type` from the other replicas. */
  onMessage(type: string, handler: (m: BusMessage) => void): void {
    this.handlers.set(type, handler);
  }

  private async subscribe(): Promise<void> {
    const channel = this.key('bus');
    this.sub.on('message', (ch: string, text: string) => {
      if (ch !== channel) return;
      let m: BusMessage;
      try {
        m = decode(text) as BusMessage;
      } catch {
        this.log.warn('cluster: unreadable message on the bus ignored');
        return;
      }
      if (m.from === this.replica) return;
      try {
        this.handlers.get(m.type)?.(m);
      } catch (err) {
        this.log.error({ err, type: m.type }, 'cluster: message handler failed');
      }
    });
    // The survivor that reaps a dead replica says so at once (the others' next look is up to 1 s away).
    this.handlers.set('down', (m) => {
      if (typeof m.replica === 'string' && m.replica !== this.replica) this.forget(m.replica);
    });
    // ioredis subscribes again by itself after a reconnect.
    await this.sub.subscribe(channel);
  }

  /** Leaves the cluster: the lease and this replica's links are removed at once. Idempotent. */
  async leave(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.renewTimer) clearInterval(this.renewTimer);
    if (this.watchTimer) clearInterval(this.watchTimer);
    try {
      await this.dropLinksOf(this.replica);
      await this.cmd.del(this.key('lease', this.replica), this.key('state', this.replica));
      await this.cmd.srem(this.key('replicas'), this.replica);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cluster: could not leave cleanly (the lease lapses by itself)');
    }
    await closeRedis(this.sub);
    await closeRedis(this.cmd);
    this.log.info('cluster: left');
  }
}
