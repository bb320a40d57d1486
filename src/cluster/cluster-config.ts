/**
 * The `cluster:` section: this node is one replica of an upper node run as several
 * processes sharing PostgreSQL (records) and Redis (leases, link owners, events).
 * Kept apart from config.ts so the cluster's keys stay in one place.
 */
import { z } from 'zod';
import { hasUnsafeText, UNSAFE_TEXT_MESSAGE } from '../../dataplane/protocol/safe-text.js';

/** Validated `cluster:` keys (absent: a single node, no Redis). */
export const clusterSchema = z
  .strictObject({
    /** The Redis every replica shares: redis://[user:pass@]host:port[/db] or rediss://. */
    redis: z.string().regex(/^rediss?:\/\/[^/]+(\/\d{1,2})?$/, 'expected "redis://host:port" or "redis://host:port/DB"'),
    /** This replica's name, unique in the cluster (default: the node's name). */
    replica: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9._-]+$/, 'expected letters, digits, ".", "_" or "-"')
      .refine((n) => !hasUnsafeText(n), UNSAFE_TEXT_MESSAGE)
      .optional(),
    /** Shared by the replicas: authenticates the requests they forward to each other. */
    secret: z.string().min(16, 'must be at least 16 characters').max(256).optional(),
    /** Prefix of every Redis key and channel of this cluster (several clusters may share one Redis). */
    prefix: z.string().min(1).max(64).regex(/^[A-Za-z0-9._:-]+$/, 'expected letters, digits, ".", "_", ":" or "-"').default('stream-cascade'),
    /** A replica whose lease is not renewed for this long is dead to the others, ms. */
    leasettl: z.number().int().min(1_000).max(60_000).default(6_000),
  })
  .optional();

/** The normalised `cluster:` section. */
export interface ClusterConfig {
  redisUrl: string;
  replica: string;
  /** Authenticates replica-to-replica HTTP; null: forwarding between replicas is off. */
  secret: string | null;
  prefix: string;
  leaseTtlMs: number;
}

export function normaliseCluster(c: z.output<typeof clusterSchema>, name: string): ClusterConfig | null {
  if (!c) return null;
  return { redisUrl: c.redis, replica: c.replica ?? name, secret: c.secret ?? null, prefix: c.prefix, leaseTtlMs: c.leasettl };
}
