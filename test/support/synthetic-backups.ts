// Synthetic backup histories written straight into an S3 bucket: manifests, drill evidence
// and locks made with ragops' own schemas, tiny fake artifacts, so retention can be tested
// on months of backups in seconds.
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { backupLockSchema, drEvidenceSummarySchema, manifestSchema, verificationSchema, type BackupLock } from '../../src/config/manifest.js';
import { backupKeys } from '../../src/core/storeKeys.js';

const compact = (time: Date) => time.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

export interface Drill {
  depth: 'checksum' | 'restore';
  passed: boolean;
  /** Written into the evidence when set (evidence before outcomes has only `passed`). */
  outcome?: 'passed' | 'failed' | 'inconclusive';
  /** Hours after the backup. */
  afterHours: number;
}

export interface SyntheticBackup {
  backupId: string;
  time: Date;
  manifest: 'valid' | 'none' | 'unreadable';
  drills: Drill[];
  locks: BackupLock[];
  /** The backup plan recorded in the manifest (absent: a backup made without a plan). */
  plan?: string;
  /** Disaster recovery (or DR drill) evidence written beside the backup. */
  dr?: SyntheticDr[];
}

export interface SyntheticDr {
  mode: 'recover' | 'drill';
  /** Hours after the backup that the run started; it validated `rtoSeconds` later. */
  afterHours: number;
  rtoSeconds: number;
  rtoTargetSeconds: number;
  rpoSeconds: number;
  rpoTargetSeconds: number;
}

export function syntheticBackup(time: Date, serial: number, extra: Partial<SyntheticBackup> = {}): SyntheticBackup {
  return { backupId: `${compact(time)}-${serial.toString(16).padStart(8, '0')}`, time, manifest: 'valid', drills: [], locks: [], ...extra };
}

/** The last drill of any depth (or of one depth) as the store's key order sees it. */
export function lastDrill(backup: SyntheticBackup, depth?: Drill['depth']): Drill | undefined {
  return backup.drills.filter((drill) => !depth || drill.depth === depth).sort((a, b) => a.afterHours - b.afterHours).at(-1);
}

/**
 * Every object of one backup, keyed under the stack as ragops lays them out. `minimal` writes
 * one artifact (the dump) instead of two, for histories of thousands of backups;
 * `withoutArtifacts` leaves the artifacts' objects out (the manifest still lists them), for
 * readers of manifests and evidence only.
 */
export function objectsOf(stack: string, backup: SyntheticBackup, options: { minimal?: boolean; withoutArtifacts?: boolean } = {}): Array<{ key: string; body: string }> {
  const { backupId, time } = backup;
  const dump = { key: backupKeys.postgresDump(stack, backupId, 'app'), body: `fake pg_dump of ${backupId}\n` };
  const snapshot = { key: backupKeys.qdrantSnapshot(stack, backupId, 'docs'), body: `fake snapshot of ${backupId}\n`.repeat(3) };
  const sha = (body: string) => createHash('sha256').update(body).digest('hex');
  const at = (hours: number) => new Date(time.getTime() + hours * 3_600_000).toISOString();
  const objects = options.minimal ? [dump] : [dump, snapshot];
  if (backup.manifest !== 'none') {
    const manifest = manifestSchema.parse({
      formatVersion: 1,
      backupId,
      stack,
      workflowId: `backup-${stack}-${backupId}`,
      runId: backupId,
      startedAt: time.toISOString(),
      finishedAt: at(0.1),
      store: 's3://synthetic/',
      ...(backup.plan ? { plan: backup.plan } : {}),
      artifacts: [
        { component: 'postgres', name: 'app', key: dump.key, size: dump.body.length, sha256: sha(dump.body), durationMs: 5, database: 'app', serverVersion: '15', pgDumpVersion: '15', tables: { 'public.t': 1 } },
        { component: 'qdrant', name: 'docs', key: snapshot.key, size: snapshot.body.length, sha256: sha(snapshot.body), durationMs: 5, pointsCount: 1, vectors: { size: 4 }, snapshotName: 's' },
      ].filter((artifact) => objects.some((object) => object.key === artifact.key)),
    });
    const body = backup.manifest === 'valid' ? JSON.stringify(manifest) : JSON.stringify({ ...manifest, formatVersion: 2 });
    objects.push({ key: backupKeys.manifest(stack, backupId), body });
  }
  if (options.withoutArtifacts) objects.splice(0, objects.length - (backup.manifest === 'none' ? 0 : 1));
  for (const drill of backup.drills) {
    const finishedAt = new Date(time.getTime() + drill.afterHours * 3_600_000);
    const evidence = verificationSchema.parse({
      formatVersion: 1,
      backupId,
      stack,
      depth: drill.depth,
      workflowId: `drill-${backupId}`,
      runId: 'r',
      startedAt: finishedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      passed: drill.passed,
      outcome: drill.outcome,
      checks: [],
    });
    objects.push({ key: backupKeys.verification(stack, backupId, finishedAt, 'fixture0', drill.depth), body: JSON.stringify(evidence) });
  }
  for (const dr of backup.dr ?? []) {
    const startedAt = new Date(time.getTime() + dr.afterHours * 3_600_000);
    const validatedAt = new Date(startedAt.getTime() + dr.rtoSeconds * 1000);
    const evidence = drEvidenceSummarySchema.parse({
      mode: dr.mode,
      outcome: dr.mode === 'drill' ? 'drilled' : 'recovered',
      rto: { seconds: dr.rtoSeconds, targetSeconds: dr.rtoTargetSeconds, met: dr.rtoSeconds <= dr.rtoTargetSeconds, to: validatedAt.toISOString() },
      rpo: { seconds: dr.rpoSeconds, targetSeconds: dr.rpoTargetSeconds, met: dr.rpoSeconds <= dr.rpoTargetSeconds },
    });
    objects.push({ key: backupKeys.drEvidence(stack, backupId, startedAt, 'fixture0', dr.mode), body: JSON.stringify({ ...evidence, phases: [] }) });
  }
  for (const lock of backup.locks) {
    objects.push({ key: backupKeys.lock(stack, backupId, lock.workflowId), body: JSON.stringify(backupLockSchema.parse(lock)) });
  }
  return objects;
}

export async function putAll(s3: S3Client, bucket: string, prefix: string, objects: Array<{ key: string; body: string }>, concurrency = 12): Promise<void> {
  const queue = [...objects];
  const worker = async () => {
    for (let object = queue.shift(); object; object = queue.shift()) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + object.key, Body: object.body }));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
