/**
 * Cascade client records: the lower nodes known to this node. REST and GraphQL
 * both call this service, so every change emits the same `clientChanged` event.
 */
import { type EntityManager } from 'typeorm';
import { z } from 'zod';
import type { Database } from '../db/database.js';
import { LowerNode } from '../db/entities/lower-node.entity.js';
import { InstallationFact } from '../db/entities/installation.entity.js';
import { LEGACY_SECRET_SCHEME, SECRET_SCHEME, type SecretDigest } from '../security/secret-digest.js';
import { AppError, notFound } from '../errors.js';
import { ConfigError } from '../config.js';
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
/** Shortest secret accepted for a new record or a secret change (REST, GraphQL, config, auto-registration). */
export const MIN_SECRET_LENGTH = 12;
const secretSchema = z
  .string({ error: 'secret must be a string' })
  .min(MIN_SECRET_LENGTH, `secret must be at least ${MIN_SECRET_LENGTH} characters`)
  .max(256, 'secret must be at most 256 characters');

const createClientInput = z.strictObject({ name: nameSchema, secret: secretSchema });
const updateClientInput = z.strictObject({ name: nameSchema.optional(), secret: secretSchema.optional() });

/** What the link's lookup of a secret found. */
type SecretLookup =
  | { kind: 'found'; client: ClientRecord }
  | { kind: 'none' }
  /** Several records share the secret and none is named like the caller. */
  | { kind: 'ambiguous' };

/** Key of the secret key's check value in the `installation` table. */
const KEY_CHECK = 'secret-key-check';

function toRecord(c: LowerNode): ClientRecord {
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
type LinkKicker = (clientId: number, reason: 'deleted' | 'secret-changed') => void;

export class ClientService {
  private kicker: LinkKicker = () => {};

  constructor(
    private readonly db: Database,
    private readonly events: EventBus<NodeEvents>,
    private readonly secrets: SecretDigest,
  ) {}

  /**
   * At start: checks that this installation's key is the one the stored digests were
   * made with (a different key would orphan every secret: the node refuses to start),
   * records it on a database that holds no keyed secret yet, and converts rows still holding the legacy SHA-256.
   * Returns how many rows were converted.
   */
  async prepareSecrets(keyFile: string, shared = false): Promise<number> {
    try {
      return await this.prepareSecretsOnce(keyFile, shared);
    } catch (err) {
      // Replicas starting together on a new database: another one recorded the key check first.
      if (uniqueViolation(err) === null) throw err;
      return this.prepareSecretsOnce(keyFile, shared);
    }
  }

  private async prepareSecretsOnce(keyFile: string, shared: boolean): Promise<number> {
    return this.db.transaction(async (m) => {
      const facts = m.getRepository(InstallationFact);
      const check = this.secrets.keyCheck();
      const stored = await facts.findOneBy({ key: KEY_CHECK });
      const repo = m.getRepository(LowerNode);
      if (stored && stored.value !== check && (shared || (await repo.countBy({ secretScheme: SECRET_SCHEME })) > 0)) {
        throw new ConfigError(
          `${keyFile} is not the key this database's secrets were stored with; restore the original key file ` +
            '(replicas sharing one database need the same file), or the lower nodes cannot authenticate',
        );
      }
      // A database with no keyed secret yet (new, or only pull rules) simply takes this key.
      if (stored?.value !== check) await facts.save({ key: KEY_CHECK, value: check });
      const legacy = await repo.findBy({ secretScheme: LEGACY_SECRET_SCHEME });
      for (const row of legacy) {
        if (row.secretHash === null) continue;
        row.secretHash = this.secrets.fromLegacy(row.secretHash);
        row.secretScheme = SECRET_SCHEME;
        await repo.save(row);
      }
      return legacy.length;
    });
  }

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

  /**
   * Names are unique; secrets are not checked at all: refusing a secret that another
   * record uses would tell the caller that someone uses it (docs/SECURITY.md).
   */
  private async assertNameFree(m: EntityManager, name: string | undefined, exceptId?: number): Promise<void> {
    if (name === undefined) return;
    const other = await m.getRepository(LowerNode).findOneBy({ name });
    if (other && other.id !== exceptId) throw new AppError('NAME_TAKEN', `a client named "${name}" already exists`);
  }

  private mapUnique(err: unknown): never {
    if (uniqueViolation(err) !== null) throw new AppError('NAME_TAKEN', 'a client with this name already exists');
    throw err;
  }

  async create(input: unknown): Promise<ClientRecord> {
    const { name, secret } = parseInput(createClientInput, input);
    const secretHash = this.secrets.of(secret);
    const row = await this.db
      .transaction(async (m) => {
        await this.assertNameFree(m, name);
        const repo = m.getRepository(LowerNode);
        return repo.save(repo.create({ name, secretHash, secretScheme: SECRET_SCHEME, online: false, autoregistered: false }));
      })
      .catch((err: unknown) => this.mapUnique(err));
    this.emit('CREATED', row);
    return toRecord(row);
  }

  async update(id: number, input: unknown): Promise<ClientRecord> {
    const patch = parseInput(updateClientInput, input);
    const secretHash = patch.secret === undefined ? undefined : this.secrets.of(patch.secret);
    const { row, secretChanged } = await this.db
      .transaction(async (m) => {
        const repo = m.getRepository(LowerNode);
        const existing = await repo.findOneBy({ id });
        if (!existing) throw notFound(`client ${id}`);
        await this.assertNameFree(m, patch.name, id);
        const changed = secretHash !== undefined && secretHash !== existing.secretHash;
        if (patch.name !== undefined) existing.name = patch.name;
        if (secretHash !== undefined) {
          existing.secretHash = secretHash;
          existing.secretScheme = SECRET_SCHEME;
        }
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

  /**
   * Looks a client up by its secret, for authentication. Secrets are not unique: when
   * several records share one, the one named `name` (the caller's HELLO name) is it,
   * else the lookup is ambiguous and the caller is refused. A record without a secret
   * is never found: a name alone is no credential.
   */
  async findBySecret(secret: string, name: string): Promise<SecretLookup> {
    const rows = await this.db.dataSource
      .getRepository(LowerNode)
      .find({ where: { secretHash: this.secrets.of(secret), secretScheme: SECRET_SCHEME }, order: { id: 'ASC' }, take: 1_000 });
    const only = rows.length === 1 ? rows[0] : rows.find((r) => r.name === name.trim());
    if (only) return { kind: 'found', client: toRecord(only) };
    return rows.length === 0 ? { kind: 'none' } : { kind: 'ambiguous' };
  }

  /**
   * Creates a record for an auto-registering client: the name made unique
   * ("edge", "edge-2", ...), the secret's digest kept so it is recognised next time
   * (and only by it: never by its name).
   */
  async autoregister(req: { name: string; secret: string; ip: string }): Promise<ClientRecord> {
    const base = nameSchema.safeParse(req.name).success ? req.name.trim() : `client-${req.ip}`;
    const row = await this.db.transaction(async (m) => {
      const repo = m.getRepository(LowerNode);
      let name = base.slice(0, 56);
      for (let i = 2; await repo.findOneBy({ name }); i++) {
        if (i > 10_000) throw new AppError('CONFLICT', 'cannot find a free name');
        name = `${base.slice(0, 56)}-${i}`;
      }
      return repo.save(
        repo.create({
          name,
          secretHash: this.secrets.of(req.secret),
          secretScheme: SECRET_SCHEME,
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
