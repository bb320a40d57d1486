import { EntitySchema } from 'typeorm';

/**
 * A pull rule added at runtime (GraphQL addPullRule): keep `streamPath` pulled from
 * the upper node's `pullUrl` (cascade://app/name) while the link is up. Rules from
 * the YAML file are not stored; they are applied alongside these.
 */
export class PullRule {
  id!: number;
  streamPath!: string;
  pullUrl!: string;
  createdTime!: Date;
}

export const PullRuleSchema = new EntitySchema<PullRule>({
  name: 'PullRule',
  target: PullRule,
  tableName: 'pull_rule',
  columns: {
    id: { type: 'integer', primary: true, generated: 'increment' },
    streamPath: { name: 'stream_path', type: 'varchar', length: 256, unique: true },
    pullUrl: { name: 'pull_url', type: 'varchar', length: 512 },
    createdTime: { name: 'created_time', type: 'timestamptz', default: () => 'now()' },
  },
});
