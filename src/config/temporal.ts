import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';

export const DEFAULT_TASK_QUEUE = 'ragops';

export function taskQueueFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env.RAGOPS_TASK_QUEUE || DEFAULT_TASK_QUEUE;
}

/** Address, namespace, TLS and API key from TEMPORAL_* variables or the envconfig profile. */
export function temporalConnectConfig(): { connectionOptions: NativeConnectionOptions & { address: string }; namespace: string } {
  const { connectionOptions, namespace } = loadClientConnectConfig();
  return {
    connectionOptions: { ...connectionOptions, address: connectionOptions.address ?? 'localhost:7233' },
    namespace: namespace ?? 'default',
  };
}
