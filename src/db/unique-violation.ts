/**
 * Telling a unique-constraint violation (SQLSTATE 23505) apart from other query
 * failures, the same way on PostgreSQL and PGlite.
 */
import { QueryFailedError } from 'typeorm';

/**
 * When `err` is a unique violation, the text that names what clashed (constraint,
 * detail and message, for the caller to tell which column); otherwise null.
 */
export function uniqueViolation(err: unknown): string | null {
  if (!(err instanceof QueryFailedError)) return null;
  const d = err.driverError as { code?: string; constraint?: string; detail?: string; message?: string } | undefined;
  if (d?.code !== '23505') return null;
  return `${d.constraint ?? ''} ${d.detail ?? ''} ${d.message ?? ''}`;
}
