/**
 * Cascade client records: the lower nodes known to this node. REST and GraphQL
 * both call this service, so every change emits the same `clientChanged` event.
 */
import { createHash } from 'node:crypto';
import { IsNull, type EntityManager } from 'typeorm';
import { z } from 'zod';
import type { Database } from '../db/database.js';
import { LowerNode } from '../db/entities/lower-node.entity.js';
import { AppError, notFound } from '../errors.js';
import type { EventBus } from './event-bus.js';
import type { ClientEventKind, NodeEvents } from './events.js';
import { uniqueViolation } from '../db/unique-violation.js';
import { hasUnsafeText, UNSAFE_TEXT_MESSAGE } from '../../dataplane/protocol/safe-text.js';
import type { ClientRecord } from './models.js';

export type { ClientRecord } from './models.js';

const nameSchema = z
  .string({ error: 'name must be a string' })
  .trim()
  .min(1, 'name must not be empty')
  .max(64, 'name must be at most 64 characters')
  .refine((n) => !hasUnsafeText(n), `name ${UNSAFE_TEXT_MESSAGE}`);
const secretSchema = z
  .string({ error: 'secret must be a string' })
  .min(1, 'secret must not be empty')
  .max(256, 'secret must be at most 256 characters');

export const createClientInput = z.strictObject({ name: nameSchema, secret: secretSchema });
export const updateClientInput = z.strictObject({ name: nameSchema.optional(), secret: secretSchema.optional() });
export type CreateClientInput = z.input<typeof createClientInput>;
export type UpdateClientInput = z.input<typeof updateClientInput>;

/**
 * Secrets are looked up on every connect, so the hash must be deterministic:
 * SHA-256 with a domain prefix. Operators should use high-entropy secrets.
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update('stream-cascade/secret/v1\0').update(secret).digest('hex');
}

export function toRecord(c: LowerNode): ClientRecord {
  return {
    id: c.id,
    name: c.name,
    ip: c.ip,
    online: c.online,
    autoregistered: c.autoregistered,
    hasSecret: c.secretHash !== null,
    version: c.version,
    connectedSince: c.connectedSince,
    lastSeen: c.lastSeen,
    createdTime: c.createdTime,
    updatedTime: c.updatedTime,
  };
}

function parseInput<T>(schema: z.ZodType<T>, input: unknown): T {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  if (issue?.code === 'unrecognized_keys') throw new AppError('VALIDATION', `unknown field ${issue.keys.map((k) => `"${k}"`).join(', ')}`);
  if (issue?.code === 'invalid_type' && issue.input === undefined) {
    throw new AppError('VALIDATION', `${issue.path.join('.')} is required`);
  }
  throw new AppError('VALIDATION', issue?.message ?? 'invalid input');
}

/** Which listener gets told a record's link must close (deleted, or secret changed). */
export type LinkKicker = (clientId: number, reason: 'deleted' | 'secret-changed') => void;

export class ClientService {
  private kicker: LinkKicker = () => {};

  constructor(
    private readonly db: Database,
    private readonly events: EventBus<NodeEvents>,
  ) {}

  /** Set by the cascade server so record changes close live links. */
  setLinkKicker(k: LinkKicker): void {
    this.kicker = k;
  }

  private emit(kind: ClientEventKind, c: LowerNode | ClientRecord): void {
    this.events.publish('clientChanged', { kind, client: 'secretHash' in c ? toRecord(c) : c });
  }

  async list(filter: { online?: boolean | null } = {}): Promise<ClientRecord[]> {
    const where = filter.online === undefined || filter.online === null ? {} : { online: filter.online };
    const rows = await this.db.dataSource.getRepository(LowerNode).find({ where, order: { id: 'ASC' } });
    return rows.map(toRecord);
  }

  async get(id: number): Promise<ClientRecord> {
    const row = await this.db.dataSource.getRepository(LowerNode).findOneBy({ id });
    if (!row) throw notFound(`client ${id}`);
    return toRecord(row);
  }

  async find(id: number): Promise<ClientRecord | null> {
    const row = await this.db.dataSource.getRepository(LowerNode).findOneBy({ id });
    return row ? toRecord(row) : null;
  }

  private async assertFree(m: EntityManager, name: string | undefined, secretHash: string | undefined, exceptId?: number): Promise<void> {
    const repo = m.getRepository(LowerNode);
    if (name !== undefined) {
      const other = await repo.findOneBy({ name });
      if (other && other.id !== exceptId) throw new AppError('NAME_TAKEN', `a client named "${name}" already exists`);
    }
    if (secretHash !== undefined) {
      const other = await repo.findOneBy({ secretHash });
      if (other && other.id !== exceptId) throw new AppError('SECRET_TAKEN', 'another client already uses this secret');
    }
  }

  private mapUnique(err: unknown): never {
    const u = uniqueViolation(err);
    if (u !== null) {
      if (u.includes('secret')) throw new AppError('SECRET_TAKEN', 'another client already uses this secret');
      throw new AppError('NAME_TAKEN', 'a client with this name already exists');
    }
    throw err;
  }

  async create(input: unknown): Promise<ClientRecord> {
    const { name, secret } = parseInput(createClientInput, input);
    const secretHash = hashSecret(secret);
    const row = await this.db
      .transaction(async (m) => {
        await this.assertFree(m, name, secretHash);
        const repo = m.getRepository(LowerNode);
        return repo.save(repo.create({ name, secretHash, online: false, autoregistered: false }));
      })
      .catch((err: unknown) => this.mapUnique(err));
    this.emit('CREATED', row);
    return toRecord(row);
  }

  async update(id: number, input: unknown): Promise<ClientRecord> {
    const patch = parseInput(updateClientInput, input);
    const secretHash = patch.secret === undefined ? undefined : hashSecret(patch.secret);
    const { row, secretChanged } = await this.db
      .transaction(async (m) => {
        const repo = m.getRepository(LowerNode);
        const existing = await repo.findOneBy({ id });
        if (!existing) throw notFound(`client ${id}`);
        await this.assertFree(m, patch.name, secretHash, id);
        const changed = secretHash !== undefined && secretHash !== existing.secretHash;
        if (patch.name !== undefined) existing.name = patch.name;
        if (secretHash !== undefined) existing.secretHash = secretHash;
        existing.updatedTime = new Date();
        return { row: await repo.save(existing), secretChanged: changed };
      })
      .catch((err: unknown) => this.mapUnique(err));
    this.emit('UPDATED', row);
    if (secretChanged) this.kicker(id, 'secret-changed');
    return toRecord(row);
  }

  async delete(id: number): Promise<ClientRecord> {
    const row = await this.db.transaction(async (m) => {
      const repo = m.getRepository(LowerNode);
      const existing = await repo.findOneBy({ id });
      if (!existing) throw notFound(`client ${id}`);
      await repo.delete({ id });
      return existing;
    });
    const rec = toRecord(row);
    this.emit('DELETED', rec);
    this.kicker(id, 'deleted');
    return rec;
  }

  /** At start no link is up yet: every record is offline. */
  async markAllOffline(): Promise<number> {
    const r = await this.db.dataSource
      .createQueryBuilder()
      .update(LowerNode)
      .set({ online: false })
      .where('online = :on', { on: true })
      .execute();
    return r.affected ?? 0;
  }

  /** Looks a client up by its secret (hash), for authentication. */
  async findBySecret(secret: string): Promise<ClientRecord | null> {
    const row = await this.db.dataSource.getRepository(LowerNode).findOneBy({ secretHash: hashSecret(secret) });
    return row ? toRecord(row) : null;
  }

  /**
   * Creates a record for an auto-registering client: the name made unique
   * ("edge", "edge-2", ...), the secret's hash kept so it is recognised next time.
   * A client with no secret is matched by name among secretless auto-registered records.
   */
  async autoregister(req: { name: string; secret: string | null; ip: string }): Promise<ClientRecord> {
    const base = nameSchema.safeParse(req.name).success ? req.name.trim() : `client-${req.ip}`;
    const row = await this.db.transaction(async (m) => {
      const repo = m.getRepository(LowerNode);
      if (req.secret === null) {
        const same = await repo.findOneBy({ name: base, secretHash: IsNull(), autoregistered: true });
        if (same) return same;
      }
      let name = base.slice(0, 56);
      for (let i = 2; await repo.findOneBy({ name }); i++) {
        if (i > 10_000) throw new AppError('CONFLICT', 'cannot find a free name');
        name = `${base.slice(0, 56)}-${i}`;
      }
      return repo.save(
        repo.create({
          name,
          secretHash: req.secret === null ? null : hashSecret(req.secret),
          ip: req.ip,
          online: false,
          autoregistered: true,
        }),
      );
    });
    const rec = toRecord(row);
    this.emit('CREATED', rec);
    return rec;
  }

  /** The link of client `id` came up. */
  async setOnline(id: number, info: { ip: string; version: string; since: Date }): Promise<ClientRecord | null> {
    const row = await this.db.transaction(async (m) => {
      const repo = m.getRepository(LowerNode);
      const c = await repo.findOneBy({ id });
      if (!c) return null;
      Object.assign(c, { online: true, ip: info.ip, version: info.version.slice(0, 64), connectedSince: info.since, lastSeen: info.since, updatedTime: new Date() });
      return repo.save(c);
    });
    if (row) this.emit('ONLINE', row);
    return row ? toRecord(row) : null;
  }

  /** The link of client `id` went down. */
  async setOffline(id: number): Promise<ClientRecord | null> {
    const row = await this.db.transaction(async (m) => {
      const repo = m.getRepository(LowerNode);
      const c = await repo.findOneBy({ id });
      if (!c || !c.online) return null;
      const now = new Date();
      Object.assign(c, { online: false, lastSeen: now, updatedTime: now });
      return repo.save(c);
    });
    if (row) this.emit('OFFLINE', row);
    return row ? toRecord(row) : null;
  }

  /**
   * Makes every record's online state match `live` (the cascade server's live links),
   * e.g. after status updates were lost while the database was unreachable.
   * Returns how many records changed each way.
   */
  async syncOnline(live: ReadonlyArray<{ id: number; ip: string; version: string; since: Date }>): Promise<{ online: number; offline: number }> {
    const byId = new Map(live.map((l) => [l.id, l]));
    const changed = await this.db.transaction(async (m) => {
      const repo = m.getRepository(LowerNode);
      const out: Array<{ kind: 'ONLINE' | 'OFFLINE'; row: LowerNode }> = [];
      const now = new Date();
      for (const c of await repo.find()) {
        const l = byId.get(c.id);
        if (l && !c.online) {
          Object.assign(c, { online: true, ip: l.ip, version: l.version.slice(0, 64), connectedSince: l.since, lastSeen: now, updatedTime: now });
          out.push({ kind: 'ONLINE', row: await repo.save(c) });
        } else if (!l && c.online) {
          Object.assign(c, { online: false, lastSeen: now, updatedTime: now });
          out.push({ kind: 'OFFLINE', row: await repo.save(c) });
        }
      }
      return out;
    });
    for (const { kind, row } of changed) this.emit(kind, row);
    return { online: changed.filter((c) => c.kind === 'ONLINE').length, offline: changed.filter((c) => c.kind === 'OFFLINE').length };
  }
}
