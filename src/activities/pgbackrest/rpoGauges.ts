import type { MetricMeter } from '@temporalio/common';
import { hasPhysical, type StacksFile } from '../../config/stacks/index.js';
import { readPitrStatus } from './status.js';

// The achievable RPO of every physical target, as gauges beside the SDK's metrics: now − the
// newest point a restore can reach (the last archived WAL, or the newest backup's stop). Read
// by the worker on a timer, outside any workflow: a metric, not a runbook.

export interface RpoGauges {
  /** One round now (the timer does the same); resolves when every target was read. */
  refresh(): Promise<void>;
  stop(): void;
}

export function startRpoGauges(meter: MetricMeter, loadStacks: () => Promise<StacksFile>, everyMs = 60_000): RpoGauges {
  const rpo = meter.createGauge('ragops_pitr_achievable_rpo_seconds', 'float', 's', 'now minus the newest point a point-in-time restore can reach');
  const archived = meter.createGauge('ragops_pitr_last_archived_timestamp_seconds', 'float', 's', 'when the server last archived a WAL segment (pg_stat_archiver)');
  const readable = meter.createGauge('ragops_pitr_status_readable', 'int', undefined, '1 when both the repository and the server could be read');
  const refresh = async () => {
    const stacks = await loadStacks().catch(() => undefined);
    for (const [stack, config] of Object.entries(stacks?.stacks ?? {})) {
      for (const target of config.postgres.filter(hasPhysical)) {
        const labels = { stack, database: target.name };
        const status = await readPitrStatus(target, config.store, AbortSignal.timeout(30_000)).catch(() => undefined);
        readable.set(status && !status.repositoryError && !status.serverError ? 1 : 0, labels);
        if (status?.rpo) rpo.set(status.rpo.seconds, labels);
        if (status?.archiver?.lastArchivedAt) archived.set(Date.parse(status.archiver.lastArchivedAt) / 1000, labels);
      }
    }
  };
  let running = refresh();
  const timer = setInterval(() => {
    running = running.then(refresh, refresh);
  }, everyMs);
  timer.unref();
  return { refresh: () => (running = running.then(refresh, refresh)), stop: () => clearInterval(timer) };
}
