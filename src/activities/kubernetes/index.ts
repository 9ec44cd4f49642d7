import { ApplicationFailure } from '@temporalio/activity';
import { Readable } from 'node:stream';
import type { KubernetesTarget } from '../../config/stacks/deploy.js';
import { kubectlCommands, type KubeTarget } from './commands.js';
import { CommandFailed, runCommand } from '../runtime/exec.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
}

interface DeploymentJson {
  metadata: { name: string; generation?: number; annotations?: Record<string, string> };
  spec: { replicas?: number; template: { metadata?: { labels?: Record<string, string> }; spec: { containers: Container[] } & Record<string, unknown> } };
}

export interface DeploymentState {
  revision: number;
  image: string;
  replicas: number;
}

function kube(target: KubernetesTarget): KubeTarget {
  return { kubeconfig: target.kubeconfig, context: target.context, namespace: target.namespace };
}

async function getJson<T>(spec: Parameters<typeof runCommand>[0], signal?: AbortSignal): Promise<T> {
  return JSON.parse((await runCommand(spec, { signal })).stdout) as T;
}

async function deploymentState(target: KubernetesTarget, deployment: string, container: string): Promise<DeploymentState> {
  const json = await getJson<DeploymentJson>(kubectlCommands.getDeployment(kube(target), deployment));
  const found = json.spec.template.spec.containers.find((c) => c.name === container);
  if (!found) throw ApplicationFailure.nonRetryable(`deployment/${deployment} has no container "${container}"`, 'ConfigError');
  return {
    revision: Number(json.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0),
    image: found.image,
    replicas: json.spec.replicas ?? 1,
  };
}

/** A migration Job made from the Deployment's pod template, with the new image and the migration command. */
export function migrationJob(deployment: DeploymentJson, container: string, image: string, command: string[], jobName: string): object {
  const template = deployment.spec.template;
  const source = template.spec.containers.find((c) => c.name === container);
  if (!source) throw new Error(`deployment/${deployment.metadata.name} has no container "${container}"`);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: jobName, labels: { 'app.kubernetes.io/managed-by': 'ragops' } },
    spec: {
      backoffLimit: 0,
      ttlSecondsAfterFinished: 3600,
      template: {
        metadata: { labels: { 'app.kubernetes.io/managed-by': 'ragops', 'ragops.io/job': jobName } },
        spec: { ...template.spec, restartPolicy: 'Never', containers: [{ ...source, name: 'migrate', image, command, args: [] }] },
      },
    },
  };
}

export function createKubernetesActivities() {
  return {
    async k8sDeploymentState({ target, deployment, container }: { target: KubernetesTarget; deployment: string; container: string }): Promise<DeploymentState> {
      return deploymentState(target, deployment, container);
    },

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

    async k8sRolloutUndo({ target, deployment, revision }: { target: KubernetesTarget; deployment: string; revision: number }): Promise<void> {
      await runCommand(kubectlCommands.rolloutUndo(kube(target), deployment, revision));
    },

    /** Runs the migration as a Job, waits for it, captures its logs, and deletes it. */
    async k8sRunMigration(request: { target: KubernetesTarget; deployment: string; container: string; image: string; command: string[]; jobName: string; timeoutSeconds: number }): Promise<string> {
      const { target, jobName } = request;
      const progress = new ProgressHeartbeat(`migration job ${jobName}`);
      const deployment = await getJson<DeploymentJson>(kubectlCommands.getDeployment(kube(target), request.deployment));
      await runCommand(kubectlCommands.deleteJob(kube(target), jobName));
      const manifest = JSON.stringify(migrationJob(deployment, request.container, request.image, request.command, jobName));
      await runCommand(kubectlCommands.createFromStdin(kube(target), `job/${jobName}`), { stdin: Readable.from([manifest]) });
      const deadline = Date.now() + request.timeoutSeconds * 1000;
      try {
        for (;;) {
          const job = await getJson<{ status?: { succeeded?: number; failed?: number } }>(kubectlCommands.getJob(kube(target), jobName), progress.signal);
          const logs = async () => (await runCommand(kubectlCommands.jobLogs(kube(target), jobName, 100)).catch(() => ({ stdout: '(no logs)' }))).stdout;
          if (job.status?.succeeded) return (await logs()).slice(-4000);
          if (job.status?.failed) throw ApplicationFailure.nonRetryable(`migration job ${jobName} failed: ${(await logs()).slice(-2000)}`, 'MigrationFailed');
          if (Date.now() > deadline) throw ApplicationFailure.nonRetryable(`migration job ${jobName} did not finish in ${request.timeoutSeconds} s`, 'MigrationFailed');
          progress.beat({ job: jobName }, true);
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      } finally {
        await runCommand(kubectlCommands.deleteJob(kube(target), jobName)).catch(() => undefined);
      }
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
