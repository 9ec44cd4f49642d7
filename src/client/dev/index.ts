import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { DefaultLogger, type LogEntry, type Logger } from '@temporalio/worker';
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

/** `2026-12-06T18:00:00.000Z INFO message {meta}`: one entry of the worker's log file. */
export function workerLogLine(entry: Pick<LogEntry, 'level' | 'message' | 'meta' | 'timestampNanos'>): string {
  const at = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const meta = entry.meta && Object.keys(entry.meta).length > 0 ? ` ${JSON.stringify(entry.meta)}` : '';
  return `${at} ${entry.level} ${entry.message}${meta}\n`;
}

/**
 * The SDK's log (the workflow bundler's webpack output, worker state, activity and workflow
 * logs) goes to a file, not the terminal; warnings and errors also get one line there. The
 * runtime is installed here with that logger, and with the Prometheus exporter when
 * RAGOPS_METRICS_ADDRESS asks for it.
 */
function logWorkerToFile(installRuntime: (metricsAddress: string | undefined, logger: Logger) => void, file: WriteStream, path: string): void {
  installRuntime(
    process.env.RAGOPS_METRICS_ADDRESS,
    new DefaultLogger('INFO', (entry) => {
      file.write(workerLogLine(entry));
      if (entry.level === 'WARN' || entry.level === 'ERROR') console.error(`worker ${entry.level}: ${entry.message.split('\n')[0]} (more in ${path})`);
    }),
  );
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
  const workerLogPath = resolve(DEV_DIR, 'worker.log');
  const workerLog = createWriteStream(workerLogPath, { flags: 'a' });
  const shown = relative(process.cwd(), workerLogPath);
  const { createWorker, installRuntime } = await import('../../worker.js');
  logWorkerToFile(installRuntime, workerLog, shown);
  console.log(`Temporal CLI ${server.cli} serves ${server.address}; building the worker (workflow bundle log: ${shown})…`);
  const { worker, connection } = await createWorker({
    address: server.address,
    taskQueue: DEFAULT_TASK_QUEUE,
    log: (line: string) => void workerLog.write(`${new Date().toISOString()} INFO ${line}\n`),
  });
  const running = worker.run();

  console.log(`
ragops dev is up
  Temporal Web UI   ${server.uiUrl}
  Temporal address  ${server.address}   (state in ${DEV_DIR}/temporal.db)
  Temporal CLI      ${server.cli}   (its log: ${DEV_DIR}/temporal.log)
  worker log        ${workerLogPath}   (workflow bundle, worker and activity logs)
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
    workerLog.end();
    console.log('ragops dev stopped');
  }
}
