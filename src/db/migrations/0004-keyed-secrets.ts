import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Secrets stored as keyed digests (src/security/secret-digest.ts). Existing rows keep
 * their SHA-256 and are marked "sha256"; the node converts them at start with its key
 * (ClientService.useSecretKey), since a migration has no access to the datadir.
 * Secrets are no longer unique across records (a taken secret must not be an oracle):
 * the link's lookup tells records sharing a secret apart by name. `installation` holds
 * the check value of the key the digests were made with.
 */
export class KeyedSecrets1764000000004 implements MigrationInterface {
  name = 'KeyedSecrets1764000000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "cascade_client" ADD "secret_scheme" character varying(16)`);
    await q.query(`UPDATE "cascade_client" SET "secret_scheme" = 'sha256' WHERE "secret_hash" IS NOT NULL`);
    await q.query(`ALTER TABLE "cascade_client" DROP CONSTRAINT "UQ_cascade_client_secret_hash"`);
    await q.query(`CREATE INDEX "IDX_cascade_client_secret_hash" ON "cascade_client" ("secret_hash")`);
    await q.query(`CREATE TABLE "installation" (
      "key" character varying(64) NOT NULL,
      "value" character varying(256) NOT NULL,
      CONSTRAINT "PK_installation_key" PRIMARY KEY ("key")
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "installation"`);
    await q.query(`DROP INDEX "IDX_cascade_client_secret_hash"`);
    await q.query(`ALTER TABLE "cascade_client" ADD CONSTRAINT "UQ_cascade_client_secret_hash" UNIQUE ("secret_hash")`);
    await q.query(`ALTER TABLE "cascade_client" DROP COLUMN "secret_scheme"`);
  }
}
