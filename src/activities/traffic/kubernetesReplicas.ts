// kubernetes-replicas: the canary's share is its share of pods. The canary Deployment runs
// ceil(weight × total / 100) replicas, total being the stable Deployment's replicas when the
// canary started (its `ragops.io/canary-total` annotation, written by launchCanary or by the
// first set), so repeating a weight computes the same count and writes nothing. The stable
// Deployment is left as it is: a Service over both sends the canary canary/(canary + stable)
// of the requests; promotion rolls the stable one to the new image.
import { canaryDeploymentName, type KubernetesReplicasShifter } from '../../config/stacks/trafficKubernetes.js';
import type { DeploymentJson } from '../kubernetes/state.js';
import { CANARY_TOTAL, totalOf } from './kubernetesCanary.js';
import { checkWeight, configError, findObject, mergePatch, percent, requireObject, where, type KubernetesShifterDriver } from './kubernetesCommon.js';

/** ceil(weight × total / 100), in whole pods. */
export const canaryReplicas = (weight: number, total: number) => Math.ceil((weight * total) / 100);

const canaryName = (s: KubernetesReplicasShifter) => s.canaryDeployment ?? canaryDeploymentName(s.deployment);

function recordedTotal(canary: DeploymentJson): number | undefined {
  const total = Number(canary.metadata.annotations?.[CANARY_TOTAL]);
  return Number.isInteger(total) && total > 0 ? total : undefined;
}

export const kubernetesReplicasDriver: KubernetesShifterDriver<KubernetesReplicasShifter> = {
  async set({ target, shifter, weight, signal }) {
    checkWeight(weight);
    const name = canaryName(shifter);
    const canary = await findObject<DeploymentJson>(target, `deployment/${name}`, signal);
    if (!canary) {
      // Nothing to shift back from: a rollback after the canary was removed is done already.
      if (weight === 0) return { weight: 0, detail: `deployment/${name} absent: no canary pods` };
      throw configError(`deployment/${name} not found in ${where(target)}: launch the canary (launchCanary) before giving it a weight`);
    }
    let total = recordedTotal(canary);
    const record = total === undefined;
    if (total === undefined) {
      const stable = await requireObject<DeploymentJson>(target, `deployment/${shifter.deployment}`, "check the shifter's deployment in the stacks file", signal);
      total = totalOf(stable);
    }
    const replicas = canaryReplicas(weight, total);
    const detail = `deployment/${name}: ${replicas} of ${total} replicas`;
    if (!record && (canary.spec.replicas ?? 1) === replicas) return { weight: percent(replicas, total), detail: `${detail} (unchanged)` };
    await mergePatch(target, `deployment/${name}`, { metadata: { annotations: { [CANARY_TOTAL]: String(total) } }, spec: { replicas } }, signal);
    return { weight: percent(replicas, total), detail };
  },

  async read({ target, shifter, signal }) {
    const name = canaryName(shifter);
    const canary = await findObject<DeploymentJson>(target, `deployment/${name}`, signal);
    if (!canary) return { weight: 0, detail: `deployment/${name} absent: no canary pods` };
    let total = recordedTotal(canary);
    if (total === undefined) {
      const stable = await requireObject<DeploymentJson>(target, `deployment/${shifter.deployment}`, "check the shifter's deployment in the stacks file", signal);
      total = totalOf(stable);
    }
    const replicas = canary.spec.replicas ?? 1;
    return { weight: percent(replicas, total), detail: `deployment/${name}: ${replicas} of ${total} replicas` };
  },
};
