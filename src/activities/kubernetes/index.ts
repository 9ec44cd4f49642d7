import type { KubernetesTarget } from '../../config/stacks/deploy.js';
import { CommandFailed, runCommand } from '../runtime/exec.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { kubectlCommands } from './commands.js';
import { runMigration, type MigrationRequest } from './migration.js';
import { deploymentState, getJson, kube, type DeploymentState } from './state.js';

export { migrationJob } from './migration.js';
export type { MigrationRequest } from './migration.js';
export type { DeploymentState } from './state.js';

export function createKubernetesActivities() {
  return {
    /** Revision, template image and replicas, and the digest the current pods run (`imageId`, pinned as `repo@sha256:…`). */
    async k8sDeploymentState({ target, deployment, container }: { target: KubernetesTarget; deployment: string; container: string }): Promise<DeploymentState> {
      return deploymentState(target, deployment, container);
    },

    /**
     * `kubectl set image`: idempotent — setting the image the template already has changes
     * nothing (no new ReplicaSet, no new revision), so a rollback to a pinned digest can be retried.
     */
    async k8sSetImage({ target, deployment, container, image }: { target: KubernetesTarget; deployment: string; container: string; image: string }): Promise<void> {
      await runCommand(kubectlCommands.setImage(kube(target), deployment, container, image));
    },

    /** `kubectl rollout status`; a rollout that does not finish in time is an answer, not an error. */
    async k8sRolloutStatus({ target, deployment, timeoutSeconds }: { target: KubernetesTarget; deployment: string; timeoutSeconds: number }) {
      const progress = new ProgressHeartbeat(`rollout status deployment/${deployment}`);
      try {
        const { stdout } = await progress.during(runCommand(kubectlCommands.rolloutStatus(kube(target), deployment, timeoutSeconds), { signal: progress.signal }));
        return { complete: true, message: stdout.trim().split('\n').at(-1) ?? '' };
      } catch (error) {
        if (error instanceof CommandFailed && error.exitCode !== undefined) return { complete: false, message: error.stderrTail || error.message };
        throw error;
      }
    },

    /** @deprecated Not idempotent (the undone-to revision is renumbered): roll back with k8sSetImage to the recorded `pinned` digest. */
    async k8sRolloutUndo({ target, deployment, revision }: { target: KubernetesTarget; deployment: string; revision: number }): Promise<void> {
      await runCommand(kubectlCommands.rolloutUndo(kube(target), deployment, revision));
    },

    /**
     * Runs the migration as the Job `jobName` (made from the Deployment's pod template, without
     * probes): attaches to it when it exists (a retry), creates it only when absent, heartbeats
     * while it waits, deletes it once its result is taken, returns its logs tail or fails
     * (MigrationFailed, non-retryable). Cancelled by the run: the Job is deleted.
     */
    async k8sRunMigration(request: MigrationRequest): Promise<string> {
      return runMigration(request, new ProgressHeartbeat(`migration job ${request.jobName}`));
    },

    async k8sServiceSelector({ target, service }: { target: KubernetesTarget; service: string }): Promise<Record<string, string>> {
      return (await getJson<{ spec: { selector?: Record<string, string> } }>(kubectlCommands.getService(kube(target), service))).spec.selector ?? {};
    },

    async k8sSwitchService({ target, service, selector }: { target: KubernetesTarget; service: string; selector: Record<string, string> }): Promise<void> {
      await runCommand(kubectlCommands.patchServiceSelector(kube(target), service, selector));
    },

    async k8sScale({ target, deployment, replicas }: { target: KubernetesTarget; deployment: string; replicas: number }): Promise<void> {
      await runCommand(kubectlCommands.scale(kube(target), deployment, replicas));
    },
  };
}
