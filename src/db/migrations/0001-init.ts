import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The cascade client table as the spec describes it. */
export class Init1764000000001 implements MigrationInterface {
  name = 'Init1764000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "cascade_client" (
      "id" SERIAL NOT NULL,
      "name" character varying(64) NOT NULL,
      "secret_hash" character varying(64),
      "ip" character varying(64),
      "online" boolean NOT NULL DEFAULT false,
      "created_time" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
      "updated_time" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
      CONSTRAINT "PK_cascade_client_id" PRIMARY KEY ("id"),
      CONSTRAINT "UQ_cascade_client_name" UNIQUE ("name"),
      CONSTRAINT "UQ_cascade_client_secret_hash" UNIQUE ("secret_hash")
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "cascade_client"`);
  }
}
