import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { stringify } from 'yaml';
import { DEFAULT_CONFIG_PATH } from '../../config/load.js';
import { DEFAULT_TASK_QUEUE } from '../../config/temporal.js';
import { connectClient } from '../api/connect.js';
import { startTemporalDevServer } from './devserver.js';
import { startBackup } from '../api/runbooks.js';

const DEV_DIR = resolve('.ragops');
export const DEV_STACK = 'local';

/** The embedded default stack: the local PostgreSQL (PG* environment) into ./backups. */
export function defaultDevStacks(env: NodeJS.ProcessEnv = process.env): unknown {
  return {
    stacks: {
      [DEV_STACK]: {
        postgres: [
          {
            name: 'app',
            host: env.PGHOST ?? '127.0.0.1',
            port: Number(env.PGPORT ?? 5432),
            database: env.PGDATABASE ?? 'postgres',
            user: env.PGUSER ?? 'postgres',
            ...(env.PGPASSWORD ? { password: { env: 'PGPASSWORD' } } : {}),
          },
        ],
        store: { type: 'fs', path: resolve('backups') },
      },
    },
  };
}

/** RAGOPS_CONFIG or ./ragops.yaml when one exists; else writes the default to .ragops/. */
async function ensureStacksFile(): Promise<{ path: string; isDefault: boolean }> {
  const configured = process.env.RAGOPS_CONFIG ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);
  if (configured) return { path: resolve(configured), isDefault: false };
  const path = resolve(DEV_DIR, 'dev-stacks.yaml');
  await writeFile(path, `# written by ragops dev: the embedded default stack\n${stringify(defaultDevStacks())}`);
  return { path, isDefault: true };
}

export async function runDev(options: { port: number; uiPort: number; initialBackup: boolean }): Promise<void> {
  await mkdir(DEV_DIR, { recursive: true });
  const stacksFile = await ensureStacksFile();
  process.env.RAGOPS_CONFIG = stacksFile.path;
  const server = await startTemporalDevServer({
    dbFilename: resolve(DEV_DIR, 'temporal.db'),
    port: options.port,
    uiPort: options.uiPort,
    logFile: resolve(DEV_DIR, 'temporal.log'),
  });
  process.env.TEMPORAL_ADDRESS = server.address;
  process.env.RAGOPS_UI_URL = server.uiUrl;
  const { createWorker } = await import('../../worker.js');
  const { worker, connection } = await createWorker({ address: server.address, taskQueue: DEFAULT_TASK_QUEUE });
  const running = worker.run();

  console.log(`
ragops dev is up
  Temporal Web UI   ${server.uiUrl}
  Temporal address  ${server.address}   (state in ${DEV_DIR}/temporal.db)
  stacks file       ${process.env.RAGOPS_CONFIG}
  task queue        ${DEFAULT_TASK_QUEUE}

Run a backup (from another terminal, in this directory):
  export TEMPORAL_ADDRESS=${server.address} RAGOPS_UI_URL=${server.uiUrl} RAGOPS_CONFIG=${process.env.RAGOPS_CONFIG}
  npx ragops backup run --stack ${DEV_STACK} --wait
  temporal workflow start --address ${server.address} --task-queue ${DEFAULT_TASK_QUEUE} --type backup --input '{"stack":"${DEV_STACK}"}'
List backups:
  npx ragops backup list --stack ${DEV_STACK}
Stop with Ctrl-C.
`);

  if (options.initialBackup && stacksFile.isDefault) {
    const connected = await connectClient({ address: server.address });
    try {
      const handle = await startBackup(connected.client, { stack: DEV_STACK });
      console.log(`first backup started: ${handle.workflowId}`);
      const report = await handle.result();
      console.log(`first backup done: ${report.backupId}, ${report.total.bytes} bytes in ${report.store}`);
    } catch (error) {
      console.error(`first backup failed: ${(error as Error).message}${(error as Error).cause ? ` (${(error as { cause: Error }).cause.message})` : ''}`);
    } finally {
      await connected.close();
    }
  }

  try {
    await running;
  } finally {
    await connection.close();
    await server.stop();
    console.log('ragops dev stopped');
  }
}
