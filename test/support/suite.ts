// The set-up most backup, drill and crash test files share: the backup fixture (Temporal, moto,
// the Qdrant stand-in, a seeded database), a scratch directory, and every worker the file
// starts — all stopped after its tests, whatever happened.
import { after, before } from 'node:test';
import { addBulkTable } from './crash.js';
import { startBackupFixture, type BackupFixture } from './fixtures.js';
import { tempDir } from './ragops.js';

export interface BackupSuite {
  fixture: BackupFixture;
  dir: { path: string; remove(): Promise<void> };
  /** Workers to stop after the file's tests: push each one started. */
  workers: Array<{ stop(): Promise<void> }>;
}

/** Registers before/after hooks; the fields are set once `before` has run. */
export function useBackupSuite(name: string, options: { documents: number; bulkRows?: number }): BackupSuite {
  const suite = { workers: [] } as unknown as BackupSuite;
  before(async () => {
    suite.fixture = await startBackupFixture({ documents: options.documents });
    suite.dir = await tempDir(name);
    if (options.bulkRows) await addBulkTable(suite.fixture.db, options.bulkRows);
  });
  after(async () => {
    await Promise.allSettled(suite.workers.map((worker) => worker.stop()));
    await suite.fixture?.stop();
    await suite.dir?.remove();
  });
  return suite;
}
