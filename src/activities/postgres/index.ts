import { createPostgresDrillActivities } from './drill.js';
import { createPostgresDumpActivities } from './dump.js';
import type { PostgresTarget } from '../../config/stacks/index.js';
import { databaseExists, dropOwnedDatabase, withPostgresAdmin, type PostgresDeps } from './session.js';
import { createPostgresStagingActivities } from './staging.js';

export type { PostgresDeps } from './session.js';

export function createPostgresActivities(deps: PostgresDeps = {}) {
  return {
    ...createPostgresDumpActivities(deps),
    ...createPostgresDrillActivities(deps),
    ...createPostgresStagingActivities(deps),
    /** Drops a database this run created (scratch, staging, or the replaced original); idempotent. */
    async dropRunDatabase({ target, database }: { target: PostgresTarget; database: string }): Promise<boolean> {
      return withPostgresAdmin(target, undefined, ({ admin }) => dropOwnedDatabase(admin, database));
    },

    async postgresDatabaseExists({ target, database }: { target: PostgresTarget; database: string }): Promise<boolean> {
      return withPostgresAdmin(target, undefined, ({ admin }) => databaseExists(admin, database));
    },
  };
}
