import { EntitySchema } from 'typeorm';

/**
 * A lower node known to this (upper) node. The secret itself is never stored:
 * only its keyed digest (src/security/secret-digest.ts), never returned by any API.
 *
 * Defined with EntitySchema rather than decorators, so the same entity works
 * under tsx, tsc and any cwd with no decorator or metadata settings.
 */
export class LowerNode {
  id!: number;
  name!: string;
  secretHash!: string | null;
  /** How secretHash was made: "hmac-sha256", or "sha256" for a row not yet converted. */
  secretScheme!: string | null;
  /** Last remote address the client connected from (null until its first connect). */
  ip!: string | null;
  online!: boolean;
  /** Created by auto-registration rather than by an operator. */
  autoregistered!: boolean;
  /** Program version the client reported in its hello. */
  version!: string | null;
  connectedSince!: Date | null;
  lastSeen!: Date | null;
  createdTime!: Date;
  updatedTime!: Date;
}

export const LowerNodeSchema = new EntitySchema<LowerNode>({
  name: 'LowerNode',
  target: LowerNode,
  tableName: 'cascade_client',
  columns: {
    id: { type: 'integer', primary: true, generated: 'increment' },
    name: { type: 'varchar', length: 64, unique: true },
    secretHash: { name: 'secret_hash', type: 'varchar', length: 64, nullable: true },
    secretScheme: { name: 'secret_scheme', type: 'varchar', length: 16, nullable: true },
    ip: { type: 'varchar', length: 64, nullable: true },
    online: { type: 'boolean', default: false },
    autoregistered: { type: 'boolean', default: false },
    version: { type: 'varchar', length: 64, nullable: true },
    connectedSince: { name: 'connected_since', type: 'timestamptz', nullable: true },
    lastSeen: { name: 'last_seen', type: 'timestamptz', nullable: true },
    createdTime: { name: 'created_time', type: 'timestamptz', default: () => 'now()' },
    updatedTime: { name: 'updated_time', type: 'timestamptz', default: () => 'now()' },
  },
  indices: [{ name: 'IDX_cascade_client_secret_hash', columns: ['secretHash'] }],
});
