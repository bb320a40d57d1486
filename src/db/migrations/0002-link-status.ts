import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Live-link facts shown per client: version, connected since, last seen; and how it was registered. */
export class LinkStatus1764000000002 implements MigrationInterface {
  name = 'LinkStatus1764000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "cascade_client"
      ADD "autoregistered" boolean NOT NULL DEFAULT false,
      ADD "version" character varying(64),
      ADD "connected_since" TIMESTAMP WITH TIME ZONE,
      ADD "last_seen" TIMESTAMP WITH TIME ZONE`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "cascade_client"
      DROP COLUMN "last_seen", DROP COLUMN "connected_since", DROP COLUMN "version", DROP COLUMN "autoregistered"`);
  }
}
