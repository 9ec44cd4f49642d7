import type { BackupListing } from '../../activities/store/catalog.js';
import { formatBytes } from '../../core/format.js';

export function formatBackupListing(listings: BackupListing[]): string {
  if (listings.length === 0) return 'no backups found';
  const rows = listings.map((listing) => {
    const manifest = listing.manifest;
    const state = manifest ? (manifest.checksumVerifiedAt ? 'complete, checksum-verified' : 'complete') : listing.problem ?? 'INCOMPLETE (no manifest)';
    // pgBackRest's backups live in its repository, not as artifacts: counted and named beside them.
    const physical = manifest?.physical ?? [];
    const kinds = manifest ? [...new Set([...manifest.artifacts.map((artifact) => artifact.component), ...physical.map(() => 'pgbackrest')])].join('+') : '';
    const artifacts = manifest ? `${manifest.plan ? `${manifest.plan}: ` : ''}${manifest.artifacts.length + physical.length} ${kinds || 'artifact(s)'}` : `${listing.objects} object(s)`;
    const pgbackrest = physical.map((p) => `  pgBackRest ${p.name}: ${p.type} ${p.label}${p.type === p.requestedType ? '' : ` (${p.requestedType} asked)`}`).join('');
    const verified = listing.lastVerification
      ? `${listing.lastVerification.depth} drill ${listing.lastVerification.outcome === 'passed' ? 'passed' : listing.lastVerification.outcome.toUpperCase()} ${listing.lastVerification.finishedAt}`
      : 'never verified';
    const dr = listing.lastDr?.rto && listing.lastDr.rpo
      ? `  DR ${listing.lastDr.mode}: RTO ${listing.lastDr.rto.seconds} s of ${listing.lastDr.rto.targetSeconds}${listing.lastDr.rto.met ? '' : ' MISSED'}, RPO ${listing.lastDr.rpo.seconds} s of ${listing.lastDr.rpo.targetSeconds}${listing.lastDr.rpo.met ? '' : ' MISSED'}`
      : listing.lastDr ? `  DR ${listing.lastDr.mode}: ${listing.lastDr.outcome}` : '';
    const unreadable = listing.unreadable.length > 0 ? `  (${listing.unreadable.length} file(s) UNREADABLE: ${listing.unreadable.join('; ')})` : '';
    return `${listing.backupId}  ${formatBytes(listing.bytes).padStart(10)}  ${artifacts.padEnd(24)}  ${state.padEnd(28)}  ${verified}${pgbackrest}${dr}${unreadable}`;
  });
  return [`BACKUP ID                    SIZE        ${'CONTENTS'.padEnd(24)}  ${'STATE'.padEnd(28)}  LAST VERIFICATION`, ...rows].join('\n');
}
