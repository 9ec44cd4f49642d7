import type { CanaryPlan, DeployPlan } from '../../config/plan.js';
import { notifyOf } from '../../config/stacks/notify.js';
import { newRunTag } from './runTag.js';
import { invalidInput, stackFromInput, stacksLoader, type LoadStacks } from './stacks.js';
import type { CanaryOptions, DeployOptions } from '../../config/inputs.js';
import { formatIssues } from '../../config/issues.js';
import { canarySchema } from '../../config/stacks/canary.js';
import type { StacksFile } from '../../config/stacks/index.js';
import { isKubernetesBlueGreen, type DeployService } from '../../config/stacks/deploy.js';

/**
 * With `requireChecks` (the default for blue-green) a deploy must have checks that can verify
 * the new version and a rollback: otherwise "verified" would mean nothing was looked at.
 */
export function missingChecks(service: string, config: DeployService, strategy: DeployOptions['strategy']): string | undefined {
  if (!(config.requireChecks ?? strategy === 'blueGreen')) return undefined;
  const at = `deploy.services.${service}`;
  if (strategy === 'blueGreen' && config.blueGreen && !isKubernetesBlueGreen(config.blueGreen)) {
    // Compose: the new version is checked on its own port before the switch, the stable one after a rollback.
    if (config.blueGreen.health.length === 0) return `${at}.blueGreen.health: no health check of the new version (on its canary port) before the switch (or set requireChecks: false)`;
    if (config.health.length === 0) return `${at}.health: no health check of the stable version to verify a rollback (or set requireChecks: false)`;
    return undefined;
  }
  if (strategy === 'blueGreen' && config.blueGreen && isKubernetesBlueGreen(config.blueGreen)) {
    const { health } = config.blueGreen;
    const bare = (['blue', 'green'] as const).filter((colour) => (health[colour] ?? []).length === 0);
    if (bare.length > 0) {
      return `${at}.blueGreen.health: no health check for ${bare.join(' and ')}; a blue-green deploy checks the idle colour before the switch and the old one after a rollback (or set requireChecks: false)`;
    }
    return undefined;
  }
  if (config.health.length === 0) return `${at}.health: requireChecks is set but no health check is configured to verify the new version and a rollback`;
  return undefined;
}

export function createDeployPlanActivities(deps: { loadStacks?: LoadStacks }) {
  const loadStacks = stacksLoader(deps.loadStacks);
  return {
    async resolveDeployPlan({ options }: { options: DeployOptions }): Promise<DeployPlan> {
      return deployPlanOf(await loadStacks(), options);
    },

    /**
     * A canary's plan: the deploy plan of its service, and the stack's `canary.<service>` with
     * the input's steps, if given, in place of its own (checked against the same rules).
     */
    async resolveCanaryPlan({ options }: { options: CanaryOptions }): Promise<CanaryPlan> {
      const stacks = await loadStacks();
      const deploy = deployPlanOf(stacks, { ...options, strategy: 'rolling', backup: false, rollbackWindowSeconds: 0 });
      const configured = stackFromInput(stacks, options.stack).canary?.[options.service];
      if (!configured) throw invalidInput(`service: stack "${options.stack}" has no canary.${options.service} section (its steps, traffic shifter and metrics)`);
      const parsed = canarySchema.safeParse({ ...configured, steps: options.steps ?? configured.steps });
      if (!parsed.success) throw invalidInput(`steps: ${formatIssues(parsed.error)}`);
      return { deploy, canary: parsed.data };
    },
  };
}

/** What a deploy will touch; unknown services and impossible strategies are refused here. */
function deployPlanOf(stacks: StacksFile, options: DeployOptions): DeployPlan {
  const stack = stackFromInput(stacks, options.stack);
  if (!stack.deploy) throw invalidInput(`stack: stack "${options.stack}" has no deploy section`);
  const config = stack.deploy.services[options.service];
  if (!config) {
    throw invalidInput(`service: "${options.service}" is not a service of stack "${options.stack}" (known: ${Object.keys(stack.deploy.services).join(', ')})`);
  }
  const target = stack.deploy.target;
  if (options.strategy === 'blueGreen') {
    if (!config.blueGreen && target.type === 'compose') {
      throw invalidInput(
        `strategy: blue-green on Compose needs a traffic shifter in front of the two versions (canary.${options.service}.traffic) and deploy.services.${options.service}.blueGreen with the checks of the new version; the shifter comes with the canary runbook; deploy this service with strategy rolling until both are configured`,
      );
    }
    if (!config.blueGreen) throw invalidInput(`strategy: blueGreen needs deploy.services.${options.service}.blueGreen in the stacks file`);
    if (target.type === 'kubernetes' && !isKubernetesBlueGreen(config.blueGreen)) {
      throw invalidInput(`strategy: deploy.services.${options.service}.blueGreen on Kubernetes names the Service and the blue and green Deployments`);
    }
    if (target.type === 'compose') {
      if (isKubernetesBlueGreen(config.blueGreen)) {
        throw invalidInput(`strategy: deploy.services.${options.service}.blueGreen names Kubernetes objects, but the target is Compose: give { health, smoke } of the new version`);
      }
      // The switch is the canary runbook's traffic shifter, canary.<service>.traffic.
      const canary = stack.canary?.[options.service];
      if (!canary) {
        throw invalidInput(`strategy: blue-green on Compose switches through the traffic shifter in canary.${options.service}.traffic of stack "${options.stack}", which has no such section`);
      }
      const parsed = canarySchema.safeParse(canary);
      if (!parsed.success) throw invalidInput(`strategy: canary.${options.service} (its traffic shifter switches the blue-green deploy): ${formatIssues(parsed.error)}`);
    }
  }
  const missing = missingChecks(options.service, config, options.strategy);
  if (missing) throw invalidInput(missing);
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
    ...notifyOf(stack),
  };
}
