import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Pull rules added at runtime. */
export class PullRules1764000000003 implements MigrationInterface {
  name = 'PullRules1764000000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "pull_rule" (
      "id" SERIAL NOT NULL,
      "stream_path" character varying(256) NOT NULL,
      "pull_url" character varying(512) NOT NULL,
      "created_time" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
      CONSTRAINT "PK_pull_rule_id" PRIMARY KEY ("id"),
      CONSTRAINT "UQ_pull_rule_stream_path" UNIQUE ("stream_path")
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "pull_rule"`);
  }
}
