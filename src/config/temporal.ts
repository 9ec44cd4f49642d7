import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { z } from 'zod';

export const DEFAULT_TASK_QUEUE = 'ragops';

export function taskQueueFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env.RAGOPS_TASK_QUEUE || DEFAULT_TASK_QUEUE;
}

const activitySlots = z.coerce.number().int().min(1).max(1000);

/** RAGOPS_MAX_CONCURRENT_ACTIVITIES: the most activities one worker runs at once; unset, the SDK's default (100). */
export function activitySlotsFromEnv(env: NodeJS.ProcessEnv = process.env): { maxConcurrentActivityTaskExecutions?: number } {
  const raw = env.RAGOPS_MAX_CONCURRENT_ACTIVITIES;
  if (!raw) return {};
  const parsed = activitySlots.safeParse(raw);
  if (!parsed.success) throw new Error(`RAGOPS_MAX_CONCURRENT_ACTIVITIES: a whole number from 1 to 1000, not "${raw}"`);
  return { maxConcurrentActivityTaskExecutions: parsed.data };
}

/** Address, namespace, TLS and API key from TEMPORAL_* variables or the envconfig profile. */
export function temporalConnectConfig(): { connectionOptions: NativeConnectionOptions & { address: string }; namespace: string } {
  const { connectionOptions, namespace } = loadClientConnectConfig();
  return {
    connectionOptions: { ...connectionOptions, address: connectionOptions.address ?? 'localhost:7233' },
    namespace: namespace ?? 'default',
  };
}
