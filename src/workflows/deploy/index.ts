import { setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { deployInputSchema } from '../../config/inputs.js';
import { quickActivities } from '../lib/activities.js';
import { parseInput } from '../lib/input.js';
import { RagopsImage, RagopsService } from '../../core/searchAttributes.js';
import { StepTracker } from '../lib/steps.js';
import { withLeases } from '../lib/leases.js';
import { deployClaims } from '../../core/leases.js';
import { deployBlueGreen } from './blueGreen.js';
import { statusQuery, type DeployReport } from './report.js';
import { deployRolling } from './rolling.js';

/**
 * Deploys one service, rolling (./rolling.ts) or blue-green (./blueGreen.ts): either way a
 * failure or a cancellation ends in a verified rollback. Never leaves a stack half-deployed.
 */
export async function deploy(rawInput: unknown): Promise<DeployReport> {
  const options = parseInput(deployInputSchema, rawInput, 'deploy');
  const steps = new StepTracker('deploy', options.stack);
  upsertSearchAttributes([
    { key: RagopsService, value: options.service },
    { key: RagopsImage, value: options.image },
  ]);
  const plan = await steps.step('plan', 'check the service and the image', () => quickActivities('plan deploy').resolveDeployPlan({ options }));
  steps.setHeadline(`**deploy** of \`${plan.image}\` to ${plan.service} (stack \`${plan.stack}\`, ${plan.target.type}, ${options.strategy})`);
  const report: DeployReport = { stack: plan.stack, service: plan.service, image: plan.image, strategy: options.strategy, target: plan.target.type, checks: [], outcome: 'running' };
  setHandler(statusQuery, () => report);
  return withLeases(steps, 'deploy', deployClaims(plan.stack, plan.service), () =>
    options.strategy === 'blueGreen' ? deployBlueGreen(plan, options, steps, report) : deployRolling(plan, options, steps, report),
  );
}

export { rollbackSignal, statusQuery, type DeployReport } from './report.js';
