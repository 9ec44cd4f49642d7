// A test-only workflow: the compose migration step alone, with the deploy's activity options
// for long steps (heartbeat timeout 10 s, so a dead worker's attempt is retried elsewhere soon).
import { proxyActivities } from '@temporalio/workflow';
import type { createComposeActivities } from '../../../src/activities/compose/index.js';

type ComposeActivities = ReturnType<typeof createComposeActivities>;
export type MigrateInput = Parameters<ComposeActivities['composeMigrate']>[0];

const { composeMigrate } = proxyActivities<ComposeActivities>({
  startToCloseTimeout: '10m',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', maximumAttempts: 5 },
});

export async function composeMigrateOnce(input: MigrateInput): Promise<string> {
  return composeMigrate(input);
}
