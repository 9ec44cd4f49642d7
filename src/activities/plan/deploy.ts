import type { DeployPlan } from '../../config/plan.js';
import { newRunTag } from './runTag.js';
import { invalidInput, stackFromInput, stacksLoader, type LoadStacks } from './stacks.js';
import type { DeployOptions } from '../../config/inputs.js';

export function createDeployPlanActivities(deps: { loadStacks?: LoadStacks }) {
  const loadStacks = stacksLoader(deps.loadStacks);
  return {
    /** What a deploy will touch; unknown services and impossible strategies are refused here. */
    async resolveDeployPlan({ options }: { options: DeployOptions }): Promise<DeployPlan> {
      const stack = stackFromInput(await loadStacks(), options.stack);
      if (!stack.deploy) throw invalidInput(`stack: stack "${options.stack}" has no deploy section`);
      const config = stack.deploy.services[options.service];
      if (!config) {
        throw invalidInput(`service: "${options.service}" is not a service of stack "${options.stack}" (known: ${Object.keys(stack.deploy.services).join(', ')})`);
      }
      const target = stack.deploy.target;
      if (options.strategy === 'blueGreen' && (target.type !== 'kubernetes' || !config.blueGreen)) {
        throw invalidInput(`strategy: blueGreen needs a Kubernetes target and deploy.services.${options.service}.blueGreen in the stacks file`);
      }
      return {
        stack: options.stack,
        runTag: newRunTag(),
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
