import { EntitySchema } from 'typeorm';

/** Facts about this installation's database, by key (e.g. the secret key's check value). */
export class InstallationFact {
  key!: string;
  value!: string;
}

export const InstallationFactSchema = new EntitySchema<InstallationFact>({
  name: 'InstallationFact',
  target: InstallationFact,
  tableName: 'installation',
  columns: {
    key: { type: 'varchar', length: 64, primary: true },
    value: { type: 'varchar', length: 256 },
  },
});
