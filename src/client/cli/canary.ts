import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import { webUiUrl } from '../api/connect.js';
import {
  abortCanary,
  canaryStatus,
  checkCanaryInput,
  pauseCanary,
  promoteCanary,
  resumeCanary,
  setCanaryWeight,
  startCanary,
} from '../api/canary.js';
import { InvalidInput } from '../api/runbooks.js';
import type { CanaryReport } from '../../workflows/canary/report.js';
import { versionLabel } from '../../core/format.js';
import { canaryDetailsMarkdown } from '../../core/canaryDetails.js';
import { startAndFollow, withClient, withRunOptions, type RunFlags } from './common.js';
import { genericSummary } from './summary.js';

/** One line an operator reads: outcome, step, weight, and why it is paused. */
export function canaryLine(report: CanaryReport): string {
  const step = report.stepIndex >= report.steps.length ? 'all steps done' : `step ${report.stepIndex + 1}/${report.steps.length}`;
  const paused = report.paused ? `, paused: ${report.paused.reason}` : '';
  return `${report.outcome}, ${step}, weight ${report.weight} %${paused}${report.reason ? ` — ${report.reason}` : ''}`;
}

function parseSteps(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidInput(`--steps: not JSON (${(error as Error).message}); give a list like '[{"setWeight":10},{"pause":{"duration":"5m"}}]'`);
  }
}

/** Runs `act` on the canary, then prints what it did and the run's Web UI link. */
async function steer(workflowId: string, said: string, act: (client: Client) => Promise<unknown>) {
  await withClient(async ({ client, namespace }) => {
    await act(client);
    console.log(`${said} ${workflowId}`);
    console.log(`  ${webUiUrl(namespace, workflowId)}`);
  });
}

export function addCanaryCommands(program: Command): void {
  const canary = program.command('canary').description('the canary runbook: progressive delivery steered while it runs');
  withRunOptions(
    canary
      .command('run')
      .description("start a canary of an image for a service (the stack's canary.<service> steps, shifter and metrics)")
      .requiredOption('--stack <name>', 'stack from the stacks file')
      .requiredOption('--service <name>', "service from the stack's deploy and canary sections")
      .requiredOption('--image <ref>', 'image reference, e.g. registry.example.com/api:1.5.0')
      .option('--steps <json>', "steps overriding the stack's, as JSON"),
  ).action(async (o: RunFlags & { stack: string; service: string; image: string; steps?: string }) => {
    const steps = parseSteps(o.steps);
    const input = checkCanaryInput({ stack: o.stack, service: o.service, image: o.image, ...(steps === undefined ? {} : { steps }) });
    await startAndFollow<CanaryReport>('canary', o, (client, options) => startCanary(client, input, options), (report) => genericSummary(report, `canary of ${o.image} on ${o.service}: ${canaryLine(report)}`));
  });
  canary
    .command('status <workflowId>')
    .description("print a canary's state: step, weight, paused and why, measurements, digests")
    .option('--json', 'the whole status as JSON')
    .action(async (workflowId: string, o: { json?: boolean }) => {
      await withClient(async ({ client, namespace }) => {
        const report = await canaryStatus(client, workflowId);
        if (o.json) {
          console.log(JSON.stringify(report, null, 2));
          return;
        }
        console.log(`${workflowId}: ${canaryLine(report)}`);
        console.log(`  ${webUiUrl(namespace, workflowId)}`);
        console.log(`  stable ${report.stable ? versionLabel(report.stable) : 'not recorded yet'}; canary ${report.canary?.pinned ?? 'not started yet'}`);
        console.log('');
        console.log(canaryDetailsMarkdown(report));
      });
    });
  canary
    .command('pause <workflowId>')
    .description('hold the canary at its weight until resume, promote or abort')
    .option('--reason <text>', 'shown in the status and the UI')
    .action((workflowId: string, o: { reason?: string }) => steer(workflowId, 'paused', (client) => pauseCanary(client, workflowId, o.reason)));
  canary
    .command('resume <workflowId>')
    .description('carry on after a pause (an operator pause, an indefinite pause step, or inconclusive data)')
    .action((workflowId: string) => steer(workflowId, 'resumed', (client) => resumeCanary(client, workflowId)));
  canary
    .command('promote <workflowId>')
    .description('end the current step now; with --full skip the remaining steps and promote')
    .option('--full', 'skip every remaining step and promote')
    .action((workflowId: string, o: { full?: boolean }) =>
      steer(workflowId, o.full ? 'promoting (full)' : 'promoted to the next step', (client) => promoteCanary(client, workflowId, o.full ?? false)),
    );
  canary
    .command('abort <workflowId>')
    .description('roll back: weight 0, canary removed, stable checked')
    .option('--reason <text>', 'recorded in the report')
    .action((workflowId: string, o: { reason?: string }) => steer(workflowId, 'aborting', (client) => abortCanary(client, workflowId, o.reason)));
  canary
    .command('set-weight <workflowId> <weight>')
    .description("set the canary's weight now (0 to its maxWeight); refusals print the reason and exit 1")
    .option('--force', 'raise the weight even though the last analysis failed')
    .action(async (workflowId: string, weightText: string, o: { force?: boolean }) => {
      const weight = Number(weightText);
      await withClient(async ({ client, namespace }) => {
        const answer = await setCanaryWeight(client, workflowId, weight, o.force ?? false);
        if (!answer.accepted) {
          console.error(`setWeight ${weightText} refused by ${workflowId}: ${answer.reason}`);
          console.error(`  ${webUiUrl(namespace, workflowId)}`);
          process.exitCode = 1;
          return;
        }
        console.log(`weight of ${workflowId} set to ${answer.result.weight} %: ${answer.result.detail}`);
        console.log(`  ${webUiUrl(namespace, workflowId)}`);
      });
    });
}
