// Runs the traffic activities the way a worker does — inside an activity context, behind the
// worker's cancellation and URL-redacting interceptors — without a server, and unwraps their
// failures for assertions. Activity-failure log lines (expected in these tests) are kept quiet.
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createTrafficActivities, type TrafficDeps } from '../../src/activities/traffic/index.js';
import type { WeightReading, WeightResult } from '../../src/activities/traffic/types.js';
import { cancellationInterceptor } from '../../src/activities/runtime/cancellation.js';
import { redactingActivityInterceptors } from '../../src/activities/runtime/redactErrors.js';
import type { TrafficShifter } from '../../src/config/stacks/traffic.js';

export function trafficRunner(deps: TrafficDeps = {}) {
  const activities = createTrafficActivities(deps);
  const environment = () => new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR'), interceptors: [redactingActivityInterceptors, cancellationInterceptor] });
  return {
    set: (shifter: TrafficShifter, weight: number) => environment().run(activities.setTrafficWeight, { shifter, weight }) as Promise<WeightResult>,
    read: (shifter: TrafficShifter) => environment().run(activities.readTrafficWeight, { shifter }) as Promise<WeightReading>,
    environment,
    activities,
  };
}

export { failureOf } from './failures.js';
