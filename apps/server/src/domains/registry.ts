import path from 'node:path';
import type { MigrationModule } from '../platform/db/migrator.ts';

/** Every domain with its own schema, in the order their migrations apply. */
export const domainMigrations: MigrationModule[] = [
  { name: 'user', dir: path.join(import.meta.dirname, 'user', 'migrations') },
];
