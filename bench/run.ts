// `npm run bench -- <name> [options]`: runs one benchmark, which prints its figures.
import { backupUsage, benchBackup } from './backup.js';
import { benchRestore, restoreUsage } from './restore.js';
import { benchCanary, canaryUsage } from './canary.js';
import { benchReingest, reingestUsage } from './reingest.js';
import { benchEncryption, encryptionUsage } from './encryption.js';
import { benchMirror, mirrorUsage } from './mirror.js';
import { benchPitr, pitrUsage } from './pitr.js';
import { benchDr, drUsage } from './dr.js';
import { UsageError } from './lib/usageError.js';
import { benchStatus, statusUsage } from './status.js';

const benchmarks: Record<string, { usage: string; summary: string; run: (args: string[]) => Promise<void> }> = {
  backup: {
    usage: backupUsage,
    summary: 'ragops postgres backup (fs and S3) against pg_dump, the guides\' shell script and pg_dump | aws s3 cp, with worker memory',
    run: benchBackup,
  },
  restore: {
    usage: restoreUsage,
    summary: 'ragops restore drill (local disk, 2 jobs; and streamed) against pg_restore -j 2 of the same dump (GIN trigram and btree indexes), with where the time goes',
    run: benchRestore,
  },
  canary: {
    usage: canaryUsage,
    summary: 'canary reaction times on Compose behind HAProxy with Prometheus: abort/setWeight/pause to effect, breach to weight 0; the probe metric\'s request rate against a raw fetch loop',
    run: benchCanary,
  },
  reingest: {
    usage: reingestUsage,
    summary: 'the reingest runbook (PostgreSQL source, real MiniLM, Qdrant stand-in) in rows/s over the embedder alone doing the same batches, with the worker\'s memory growth',
    run: benchReingest,
  },
  encryption: {
    usage: encryptionUsage,
    summary: 'a ragops postgres backup to an fs store with client-side encryption over the same backup without it, and the bytes each stored',
    run: benchEncryption,
  },
  mirror: {
    usage: mirrorUsage,
    summary: 'the S3 mirror (moto source, fs store): a second backup after 1 % of the objects changed over the first, full one, with what each copied',
    run: benchMirror,
  },
  pitr: {
    usage: pitrUsage,
    summary: 'pgBackRest through ragops (own archiving cluster): a full backup over `pgbackrest backup` by hand, an incr after 1 % of the rows changed over the full, and the drill\'s time to a consistent scratch server',
    run: benchPitr,
  },
  dr: {
    usage: drUsage,
    summary: 'a disasterRecovery drill (postgres + two Qdrant collections) into a second stack: RTO, and the restore-data phase over pg_restore -j 2 + curl snapshot uploads of the same files',
    run: benchDr,
  },
  status: { usage: statusUsage, summary: '`ragops status` (CLI, Temporal dev server) for 5,000 synthetic backups in moto, with its catalog and with the catalog rebuilt, against aws s3api list-objects-v2 / aws s3 ls of the stack', run: benchStatus },
};

function printUsage(): void {
  console.error('usage: npm run bench -- <name> [options]\n\navailable benchmarks:');
  for (const [name, { usage, summary }] of Object.entries(benchmarks)) console.error(`  ${usage}\n      ${summary}`);
}

const [name, ...args] = process.argv.slice(2);
const benchmark = name === undefined ? undefined : benchmarks[name];
if (!benchmark) {
  if (name !== undefined) console.error(`unknown benchmark "${name}"`);
  printUsage();
  process.exit(2);
}

try {
  await benchmark.run(args);
} catch (error) {
  if (error instanceof UsageError) {
    console.error(error.message);
    printUsage();
    process.exit(2);
  }
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  // Temporal's errors nest the reason (workflow failed ← activity failed ← what it said).
  for (let cause = (error as Error)?.cause; cause instanceof Error; cause = cause.cause) console.error(`caused by ${cause.name}: ${cause.message}`);
  process.exit(1);
}
