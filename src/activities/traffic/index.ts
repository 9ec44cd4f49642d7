import type { DeployPlan } from '../../config/plan.js';
import type { DeployTarget } from '../../config/stacks/deploy.js';
import { trafficShifterSchema, type TrafficShifter } from '../../config/stacks/traffic.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { caddyDriver } from './caddy.js';
import { haproxyDriver } from './haproxy.js';
import { httpDriver } from './http.js';
import { kubernetesContextDrivers, launchCanary, removeCanary } from './kubernetes.js';
import { launchComposeCanary, removeComposeCanary } from '../compose/canary.js';
import { configError, type ShifterContext, type ShifterDriver, type ShifterDrivers, type WeightReading, type WeightResult } from './types.js';

export type { ShifterContext, ShifterDriver, ShifterDrivers, WeightReading, WeightResult } from './types.js';

/**
 * The drivers, one per shifter type (one file each). The canary's two activities dispatch on
 * `shifter.type` through this record; the Kubernetes ones find the service's deploy target in
 * `ctx.target` (the activities' `target` input).
 */
export const shifterDrivers = {
  haproxy: haproxyDriver,
  caddy: caddyDriver,
  http: httpDriver,
  ...kubernetesContextDrivers,
} satisfies ShifterDrivers;

export interface TrafficDeps {
  /** Replaces or adds drivers (tests; a worker built with the kubernetes drivers). */
  drivers?: Partial<ShifterDrivers>;
}

function checkWeight(weight: unknown): number {
  if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > 100) {
    throw configError(`a canary weight is an integer percentage 0..100, not ${JSON.stringify(weight)}`);
  }
  return weight;
}

/** The shifter as the stacks file validated it: defaults applied; a bad one fails at once. */
function checkShifter(shifter: unknown): TrafficShifter {
  const parsed = trafficShifterSchema.safeParse(shifter);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(shifter)'}: ${issue.message}`).join('; ');
    throw configError(`traffic shifter: ${issues}`);
  }
  return parsed.data;
}

export function createTrafficActivities(deps: TrafficDeps = {}) {
  const drivers: Partial<ShifterDrivers> = { ...shifterDrivers, ...deps.drivers };

  const driverFor = (shifter: TrafficShifter): ShifterDriver => {
    const driver = drivers[shifter.type] as ShifterDriver | undefined;
    if (!driver) throw configError(`traffic shifter type ${shifter.type}: no driver is registered in this worker (src/activities/traffic/index.ts)`);
    return driver;
  };

  /** Runs a driver call heartbeating on a timer, with the activity's cancellation. */
  const run = <T>(step: string, target: DeployTarget | undefined, call: (ctx: ShifterContext) => Promise<T>): Promise<T> => {
    const progress = new ProgressHeartbeat(step);
    return progress.during(call({ signal: progress.signal, beat: (details) => progress.beat(details), ...(target ? { target } : {}) }));
  };

  return {
    /**
     * Sets the canary's share of traffic (0-100), idempotently: the same weight twice changes
     * nothing. Returns the share now in force as the proxy reports it. Bad configuration fails
     * non-retryable (ConfigError); a proxy that cannot be reached fails retryable. `target`,
     * the service's deploy target, is for the Kubernetes shifters.
     */
    async setTrafficWeight({ shifter, weight, target }: { shifter: TrafficShifter; weight: number; target?: DeployTarget }): Promise<WeightResult> {
      const checked = checkShifter(shifter);
      const share = checkWeight(weight);
      return run(`set ${checked.type} traffic to ${share} %`, target, (ctx) => driverFor(checked).set(checked, share, ctx));
    },

    /**
     * Starts the canary version beside the stable one, at no traffic: on Kubernetes the
     * `<deployment>-canary` Deployment from the stable one's template with the new image; on
     * Compose the `<service>-canary` service in ragops' override file (src/activities/compose/canary.ts).
     */
    async launchCanaryVersion({ plan, image }: { plan: DeployPlan; image: string }): Promise<string> {
      if (plan.target.type === 'compose') {
        const progress = new ProgressHeartbeat(`launch the canary of ${plan.composeService}`);
        const ports = plan.config.canary?.ports ?? [];
        const launched = await progress.during(launchComposeCanary({ target: plan.target, service: plan.composeService, image, ports, timeoutSeconds: plan.config.rolloutTimeoutSeconds, signal: progress.signal, beat: (details) => progress.beat(details) }));
        return `${launched.service} ${launched.created ? 'created' : 'updated'} with ${launched.image}`;
      }
      const progress = new ProgressHeartbeat(`launch the canary of ${plan.deployment}`);
      const launched = await progress.during(launchCanary({ target: plan.target, deployment: plan.deployment, container: plan.container, image, signal: progress.signal }));
      return `${launched.deployment} ${launched.created ? 'created' : launched.updated ? 'updated' : 'already'} with ${image}`;
    },

    /** Removes the canary version (idempotent). */
    async removeCanaryVersion({ plan }: { plan: DeployPlan }): Promise<string> {
      if (plan.target.type === 'compose') {
        const progress = new ProgressHeartbeat(`remove the canary of ${plan.composeService}`);
        const removed = await progress.during(removeComposeCanary({ target: plan.target, service: plan.composeService, signal: progress.signal }));
        return `${removed.service} ${removed.removed ? 'removed' : 'was not there'}`;
      }
      const progress = new ProgressHeartbeat(`remove the canary of ${plan.deployment}`);
      const removed = await progress.during(removeCanary({ target: plan.target, deployment: plan.deployment, signal: progress.signal }));
      return `${removed.deployment} ${removed.removed ? 'removed' : 'was not there'}`;
    },

    /** The canary's share as the proxy has it now; null (with the reason) when it cannot be told. */
    async readTrafficWeight({ shifter, target }: { shifter: TrafficShifter; target?: DeployTarget }): Promise<WeightReading> {
      const checked = checkShifter(shifter);
      return run(`read ${checked.type} traffic`, target, (ctx) => driverFor(checked).read(checked, ctx));
    },
  };
}

export type TrafficActivities = ReturnType<typeof createTrafficActivities>;
