import { Option, type Command } from 'commander';
import { checkDeployInput, requestRollback, startDeploy } from '../api/runbooks.js';
import { startAndFollow, withClient, withRunOptions, type RunFlags } from './common.js';
import { genericSummary } from './summary.js';

export function addDeployCommands(program: Command): void {
  const deploy = program.command('deploy').description('the deploy runbook');
  withRunOptions(
    deploy
      .command('run')
      .description('deploy an image to a service; a failed rollout or check rolls back')
      .requiredOption('--stack <name>', 'stack from the stacks file')
      .requiredOption('--service <name>', "service from the stack's deploy section")
      .requiredOption('--image <ref>', 'image reference, e.g. registry.example.com/api:1.4.2')
      .addOption(new Option('--strategy <strategy>', "rolling, or blueGreen (Kubernetes: the Service selector; Compose: the stack's canary traffic shifter)").choices(['rolling', 'blueGreen']).default('rolling'))
      .option('--backup', 'run a backup (child workflow) before anything changes')
      .option('--rollback-window <seconds>', 'blue-green: how long the old colour stays ready', (value) => Number(value), 600),
  ).action(async (o: RunFlags & { stack: string; service: string; image: string; strategy: string; backup?: boolean; rollbackWindow: number }) => {
    const input = checkDeployInput({ stack: o.stack, service: o.service, image: o.image, strategy: o.strategy, backup: o.backup ?? false, rollbackWindowSeconds: o.rollbackWindow });
    await startAndFollow('deploy', o, (client, options) => startDeploy(client, input, options), (report) => genericSummary(report, `deploy of ${o.image} to ${o.service} (stack ${o.stack})`));
  });
  deploy
    .command('rollback <workflowId>')
    .description('blue-green: switch back to the old colour while its window is open; prints the verified result or why it was refused')
    .action(async (workflowId: string) => {
      await withClient(async ({ client }) => {
        const answer = await requestRollback(client, workflowId);
        if (!answer.accepted) {
          console.error(`rollback refused by ${workflowId}: ${answer.reason}`);
          process.exitCode = 1;
          return;
        }
        const { result } = answer;
        console.log(`rollback of ${workflowId}: ${!result.ok ? 'FAILED' : result.verified ? 'done, verified' : 'done, NOT verified'}\n${result.evidence}`);
        if (!result.ok || !result.verified) process.exitCode = 1;
      });
    });
  deploy
    .command('status <workflowId>')
    .description("print a deploy's report so far")
    .action(async (workflowId: string) => {
      await withClient(async ({ client }) => console.log(JSON.stringify(await client.workflow.getHandle(workflowId).query('status'), null, 2)));
    });
}
