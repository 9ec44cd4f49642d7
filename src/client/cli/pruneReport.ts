import { formatBytes } from '../../core/format.js';
import { describePolicy } from '../../core/retention.js';
import type { PruneReport } from '../../workflows/pruneBackups.js';

/** The plan or result of a prune as a table: one line per backup, newest first, with its reasons. */
export function formatPruneReport(report: PruneReport): string {
  const deleteVerb = report.dryRun ? 'DELETE?' : 'deleted';
  const rows = [
    ...report.kept.map((backup) => ({ ...backup, action: 'keep', size: '' })),
    ...report.deleted.map((backup) => ({ ...backup, action: deleteVerb, size: formatBytes(backup.bytes) })),
  ].sort((a, b) => b.backupId.localeCompare(a.backupId));
  const lines = [
    `${report.dryRun ? 'DRY RUN, nothing deleted: ' : ''}stack ${report.stack} in ${report.store}, as of ${report.now}`,
    `policy: ${describePolicy(report.policy)}`,
    '',
    `${'ACTION'.padEnd(8)}  ${'BACKUP ID'.padEnd(25)}  ${'STATE'.padEnd(19)}  ${'SIZE'.padStart(10)}  REASONS`,
    ...rows.map((row) => `${row.action.padEnd(8)}  ${row.backupId.padEnd(25)}  ${row.state.padEnd(19)}  ${row.size.padStart(10)}  ${row.reasons.join('; ')}`),
  ];
  // Reports list a bounded number of entries per kind; older ragops reports have no `omitted`.
  const omitted = report.omitted ?? { kept: 0, deleted: 0, leftovers: 0, abortedUploads: 0, youngUploads: 0 };
  if (omitted.kept > 0) lines.push(`… and ${omitted.kept} more kept`);
  if (omitted.deleted > 0) lines.push(`… and ${omitted.deleted} more ${report.dryRun ? 'to delete' : 'deleted'}`);
  for (const upload of report.abortedUploads) lines.push(`${report.dryRun ? 'ABORT?' : 'aborted'} unfinished upload ${upload.key} (started ${upload.initiated})`);
  if (omitted.abortedUploads > 0) lines.push(`… and ${omitted.abortedUploads} more unfinished upload(s) ${report.dryRun ? 'to abort' : 'aborted'}`);
  for (const upload of report.youngUploads) lines.push(`keep unfinished upload ${upload.key} (started ${upload.initiated}, within the grace period)`);
  if (omitted.youngUploads > 0) lines.push(`… and ${omitted.youngUploads} more young unfinished upload(s) kept`);
  const { total } = report;
  const leftovers = total.leftovers ?? report.leftovers.length;
  const runs = (total.runs ?? 1) > 1 ? ` in ${total.runs} runs` : '';
  lines.push(
    '',
    `kept ${total.kept}, ${report.dryRun ? 'would delete' : 'deleted'} ${total.deleted} (${total.objects} objects, ${formatBytes(total.bytes)}; ${leftovers} crash leftover(s)), ${report.dryRun ? 'would abort' : 'aborted'} ${total.abortedUploads} upload(s)${runs}`,
  );
  return lines.join('\n');
}
