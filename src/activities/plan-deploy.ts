import { ApplicationFailure } from '@temporalio/activity';
import type { DeployOptions } from '../config/deploy.js';
import { loadStacksFile, stackOrThrow } from '../config/load.js';
import type { DeployPlan } from '../config/plan.js';
import type { StacksFile } from '../config/stacks.js';

function invalid(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'InvalidInput');
}

export function createDeployPlanActivities(deps: { loadStacks?: () => Promise<StacksFile> }) {
  const loadStacks = deps.loadStacks ?? (() => loadStacksFile());
  return {
    /** What a deploy will touch; unknown services and impossible strategies are refused here. */
    async resolveDeployPlan({ options }: { options: DeployOptions }): Promise<DeployPlan> {
      let stack;
      try {
        stack = stackOrThrow(await loadStacks(), options.stack);
      } catch (error) {
        throw invalid(`stack: ${(error as Error).message}`);
      }
      if (!stack.deploy) throw invalid(`stack: stack "${options.stack}" has no deploy section`);
      const config = stack.deploy.services[options.service];
      if (!config) {
        throw invalid(`service: "${options.service}" is not a service of stack "${options.stack}" (known: ${Object.keys(stack.deploy.services).join(', ')})`);
      }
      const target = stack.deploy.target;
      if (options.strategy === 'blueGreen' && (target.type !== 'kubernetes' || !config.blueGreen)) {
        throw invalid(`strategy: blueGreen needs a Kubernetes target and deploy.services.${options.service}.blueGreen in the stacks file`);
      }
      return {
        stack: options.stack,
        service: options.service,
        image: options.image,
        target,
        composeService: config.composeService ?? options.service,
        deployment: config.deployment ?? options.service,
        container: config.container ?? options.service,
        config,
        registry: stack.deploy.registry,
      };
    },
  };
}
