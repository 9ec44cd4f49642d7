import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { MetricMeter } from '@temporalio/common';
import { drillOutcomeSchema } from '../../config/manifest.js';
import { effectiveSlo, type StacksFile } from '../../config/stacks/index.js';
import { withStore } from '../store/open.js';
import { readStackFigures, type StackFigures } from './figures.js';

// The operator's figures as gauges beside the SDK's metrics (ragops_backup_…, ragops_restore_drill_…,
// ragops_dr_…, the SLO thresholds the alert rules compare with, paused schedules), read from each
// stack's store on a timer and right after this worker writes a manifest or evidence. A metric,
// not a runbook: nothing here runs inside a workflow. deploy/prometheus/ragops-rules.yml reads them.

/** A backup made without a plan, as its `plan` label (plan names are lower-case letters, digits and "-"). */
export const NO_PLAN_LABEL = '(none)';

export interface ScheduleState {
  scheduleId: string;
  stack: string;
  paused: boolean;
}

export interface RagopsGaugeSources {
  loadStacks(): Promise<StacksFile>;
  /** The ragops schedules and the stack each runs for; absent: no schedule gauges. */
  listSchedules?(): Promise<ScheduleState[]>;
  log?(line: string): void;
}

export interface RagopsGauges {
  /** One round now for the given stacks (all when none given); resolves when it is done. */
  refresh(stacks?: string[]): Promise<void>;
  /** Refreshes a stack right after this worker wrote its manifest, drill or DR evidence. */
  activityInterceptors: ActivityInterceptorsFactory;
  stop(): void;
}

const seconds = (iso: string) => Date.parse(iso) / 1000;

/** Activities whose success changes a stack's figures, and the stack each input names. */
const WRITERS: Record<string, (input: any) => string | undefined> = {
  writeManifest: (input) => input?.manifest?.stack,
  writeVerification: (input) => input?.verification?.stack,
  writeDrEvidence: (input) => (typeof input?.key === 'string' ? input.key.split('/')[0] : undefined),
};

export function startRagopsGauges(meter: MetricMeter, sources: RagopsGaugeSources, everyMs = 60_000): RagopsGauges {
  const gauge = (name: string, valueType: 'int' | 'float', unit: string | undefined, description: string) => meter.createGauge(name, valueType, unit, description);
  const backupAt = gauge('ragops_backup_last_success_timestamp_seconds', 'float', 's', 'when the newest complete backup of the plan finished');
  const backupBytes = gauge('ragops_backup_size_bytes', 'int', 'By', 'bytes of the artifacts of the newest complete backup of the plan');
  const drillPassAt = gauge('ragops_restore_drill_last_pass_timestamp_seconds', 'float', 's', 'when the newest passing restore-depth drill finished');
  const drillResult = gauge('ragops_restore_drill_last_result', 'int', undefined, '1 for the outcome of the newest drill (any depth), 0 for the others');
  const rto = gauge('ragops_dr_rto_seconds', 'float', 's', 'the RTO measured by the newest disaster recovery or DR drill');
  const rpo = gauge('ragops_dr_rpo_seconds', 'float', 's', 'the RPO measured by the newest disaster recovery or DR drill');
  const rtoTarget = gauge('ragops_dr_rto_target_seconds', 'float', 's', 'the RTO target the newest DR run was measured against');
  const rpoTarget = gauge('ragops_dr_rpo_target_seconds', 'float', 's', 'the RPO target the newest DR run was measured against');
  const backupMaxAge = gauge('ragops_slo_backup_max_age_seconds', 'float', 's', 'the stack\'s backup SLO: its newest complete backup must be younger (slo.backupMaxAge, else the DR RPO target)');
  const drillMaxAge = gauge('ragops_slo_drill_max_age_seconds', 'float', 's', 'the stack\'s drill SLO: a restore drill must have passed within this long (slo.drillMaxAge)');
  const storeReadable = gauge('ragops_exporter_store_readable', 'int', undefined, '1 when the last read of the stack\'s store for these figures succeeded');
  const paused = gauge('ragops_schedule_paused', 'int', undefined, '1 when the ragops schedule is paused');
  const schedulesReadable = gauge('ragops_exporter_schedules_readable', 'int', undefined, '1 when the last listing of the ragops schedules succeeded');
  const log = sources.log ?? (() => {});
  const knownSchedules = new Set<string>();

  const publish = (stack: string, figures: StackFigures) => {
    for (const { plan, finishedAt, bytes } of figures.plans) {
      const labels = { stack, plan: plan ?? NO_PLAN_LABEL };
      backupAt.set(seconds(finishedAt), labels);
      backupBytes.set(bytes, labels);
    }
    if (figures.lastPassingRestoreDrillAt) drillPassAt.set(seconds(figures.lastPassingRestoreDrillAt), { stack });
    const last = figures.lastDrill;
    if (last) for (const result of drillOutcomeSchema.options) drillResult.set(result === last.outcome ? 1 : 0, { stack, result });
    if (figures.lastDr?.rto) {
      rto.set(figures.lastDr.rto.seconds, { stack });
      rtoTarget.set(figures.lastDr.rto.targetSeconds, { stack });
    }
    if (figures.lastDr?.rpo) {
      rpo.set(figures.lastDr.rpo.seconds, { stack });
      rpoTarget.set(figures.lastDr.rpo.targetSeconds, { stack });
    }
  };

  const refreshStacks = async (only?: string[]) => {
    const stacks = await sources.loadStacks().catch((error: unknown) => void log(`ragops metrics: the stacks file could not be read: ${String(error)}`));
    if (!stacks) return;
    for (const [stack, config] of Object.entries(stacks.stacks)) {
      if (only && !only.includes(stack)) continue;
      const slo = effectiveSlo(config);
      if (slo.backupMaxAgeSeconds !== undefined) backupMaxAge.set(slo.backupMaxAgeSeconds, { stack });
      drillMaxAge.set(slo.drillMaxAgeSeconds, { stack });
      try {
        publish(stack, await withStore(config.store, (store) => readStackFigures(store, stack)));
        storeReadable.set(1, { stack });
      } catch (error) {
        // Fail closed: the figures keep their last values, which age into the alerts; the store's state is its own series.
        storeReadable.set(0, { stack });
        log(`ragops metrics: the store of stack "${stack}" could not be read: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (!only && sources.listSchedules) {
      try {
        const listed = await sources.listSchedules();
        // A gauge's series cannot be removed: a schedule deleted since the last round reads as not paused.
        const seen = new Map(listed.map((schedule) => [JSON.stringify([schedule.stack, schedule.scheduleId]), schedule.paused]));
        for (const known of knownSchedules) if (!seen.has(known)) seen.set(known, false);
        for (const [key, isPaused] of seen) {
          const [stack, schedule] = JSON.parse(key) as [string, string];
          paused.set(isPaused ? 1 : 0, { stack, schedule });
          knownSchedules.add(key);
        }
        schedulesReadable.set(1, {});
      } catch (error) {
        schedulesReadable.set(0, {});
        log(`ragops metrics: the schedules could not be listed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  };

  // Rounds run one after another, never two at once.
  let running: Promise<void> = refreshStacks();
  const enqueue = (only?: string[]) => (running = running.then(() => refreshStacks(only), () => refreshStacks(only)));
  const timer = setInterval(() => void enqueue(), everyMs);
  timer.unref();

  const activityInterceptors: ActivityInterceptorsFactory = (context) => ({
    inbound: {
      async execute(input, next) {
        const result = await next(input);
        const stackOf = WRITERS[context.info.activityType];
        if (stackOf) {
          const stack = stackOf(input.args[0]);
          void enqueue(stack ? [stack] : undefined);
        }
        return result;
      },
    },
  });

  return { refresh: (stacks) => enqueue(stacks), activityInterceptors, stop: () => clearInterval(timer) };
}
