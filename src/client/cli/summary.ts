// The readable end of `--wait`: a summary table per runbook report (`--json` prints the report itself).
import { checkOutcome } from '../../config/manifest.js';
import { formatBytes } from '../../core/format.js';
import { renderTable, summarizeReport } from '../../core/table.js';
import type { BackupReport } from '../../workflows/backup.js';
import type { VerifyReport } from '../../workflows/verifyBackup.js';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** One row per artifact — name, size, time, rate — then the total, the store and what followed. */
export function backupSummary(report: BackupReport): string {
  const rows = report.artifacts.map((artifact) => [
    artifact.component,
    artifact.name,
    formatBytes(artifact.size),
    seconds(artifact.durationMs),
    artifact.mibPerSecond.toFixed(1),
    artifact.sha256.slice(0, 12),
    'stored',
  ]);
  const { total } = report;
  rows.push(['TOTAL', `${total.artifacts} artifact(s)`, formatBytes(total.bytes), seconds(total.durationMs), total.mibPerSecond.toFixed(1), '', report.checksumVerified ? 'checksum-verified' : 'complete']);
  const table = renderTable(
    [
      { header: 'COMPONENT' },
      { header: 'NAME' },
      { header: 'SIZE', align: 'right' },
      { header: 'DURATION', align: 'right' },
      { header: 'MiB/s', align: 'right' },
      { header: 'SHA-256' },
      { header: 'OUTCOME' },
    ],
    rows,
  );
  const physical = (report.physical ?? []).map(
    (backup) => `pgBackRest ${backup.name}: ${backup.type} backup ${backup.label}${backup.requestedType && backup.requestedType !== backup.type ? ` (asked ${backup.requestedType})` : ''}`,
  );
  const retention = report.retention
    ? 'error' in report.retention
      ? `retention: FAILED — ${report.retention.error.split('\n')[0]}`
      : `retention: ${report.retention.workflowId} kept ${report.retention.kept}, deleted ${report.retention.deleted}`
    : undefined;
  return [
    `backup ${report.backupId} of stack ${report.stack}: complete${report.checksumVerified ? ', checksum-verified' : ''}`,
    `store: ${report.store}  manifest: ${report.manifestKey}`,
    '',
    table,
    ...(physical.length > 0 || retention ? [''] : []),
    ...physical,
    ...(retention ? [retention] : []),
  ].join('\n');
}

/** The drill's verdict, then one row per check. */
export function verifySummary(report: VerifyReport): string {
  const rows = report.checks.map((check) => [
    check.component,
    check.artifact,
    check.name,
    checkOutcome(check) === 'passed' ? 'passed' : checkOutcome(check).toUpperCase(),
    seconds(check.durationMs),
    check.detail.replace(/\s+/g, ' ').slice(0, 100),
  ]);
  return [
    `${report.depth}-depth drill of backup ${report.backupId} (stack ${report.stack}): ${report.outcome.toUpperCase()} in ${seconds(report.durationMs)}`,
    `evidence: ${report.evidenceKey}`,
    '',
    renderTable([{ header: 'COMPONENT' }, { header: 'ARTIFACT' }, { header: 'CHECK' }, { header: 'OUTCOME' }, { header: 'DURATION', align: 'right' }, { header: 'DETAIL' }], rows),
  ].join('\n');
}

/** A report without a summary of its own: every field, lists as tables. */
export function genericSummary(report: unknown, headline?: string): string {
  return [...(headline ? [headline, ''] : []), summarizeReport(report)].join('\n');
}
