import type { Command } from 'commander';
import { webUiUrl } from '../api/connect.js';
import { callerIdentity } from '../api/reingest.js';
import { askUpdate, checkDisasterRecoveryInput, startDisasterRecovery } from '../api/runbooks.js';
import type { DrReport } from '../../workflows/dr/report.js';
import { startAndFollow, withClient, withRunOptions, type RunFlags } from './common.js';
import { genericSummary } from './summary.js';
import { drApproveCommand } from '../../core/notify.js';

/** One line an operator reads: outcome, phase, and RTO/RPO against the targets once known. */
export function drLine(report: DrReport): string {
  const figure = (name: string, value?: { seconds: number; targetSeconds: number; met: boolean }) =>
    value ? `, ${name} ${value.seconds} s of ${value.targetSeconds} s${value.met ? '' : ' (MISSED)'}` : '';
  return `${report.outcome}, phase ${report.phase}${report.plan ? `, backup ${report.plan.backup.backupId}` : ''}${figure('RTO', report.rto)}${figure('RPO', report.rpo)}${report.failure ? ` — failed at ${report.failure.phase}: ${report.failure.reason.split('\n')[0]}; ${report.failure.whatNow}` : ''}`;
}

type DrFlags = RunFlags & { stack: string; at?: string; incidentAt?: string; backupId?: string; approve?: string; allowUnverified?: boolean; into?: string; keep?: boolean };

export function addDrCommands(program: Command): void {
  const dr = program.command('dr').description('the disasterRecovery runbook: assess, approve, stop writers, restore, verify, deploy, validate, report RTO/RPO');
  for (const mode of ['plan', 'run', 'drill'] as const) {
    const command = dr
      .command(mode)
      .description(
        mode === 'plan' ? 'assess only: the backup it would use and what each phase would do; changes nothing'
          : mode === 'run' ? 'recover the stack itself (waits for `ragops dr approve` unless --approve auto)'
            : 'recover into another stack (--into, or the stack\'s dr.drillStack); production is never touched, the drill stack is torn down',
      )
      .requiredOption('--stack <name>', 'stack from the stacks file')
      .option('--at <time>', 'recover data as of this time (ISO 8601 with its zone): the newest backup finished by then')
      .option('--backup-id <id>', 'this backup instead of the assessed choice')
      .option('--allow-unverified', 'use a backup no restore drill has passed (one whose drill failed is never used)');
    if (mode !== 'plan') {
      command.option('--incident-at <time>', 'when the incident began: RTO runs from it, RPO is measured to it (default the run\'s start)').option('--approve <mode>', 'manual or auto', mode === 'drill' ? 'auto' : 'manual');
    }
    if (mode === 'drill') command.option('--into <stack>', 'the stack restored into').option('--keep', 'leave what the drill created, for a look');
    withRunOptions(command).action(async (o: DrFlags) => {
      const input = checkDisasterRecoveryInput({
        stack: o.stack,
        mode: mode === 'run' ? 'recover' : mode,
        ...(o.at ? { at: o.at } : {}),
        ...(o.backupId ? { backupId: o.backupId } : {}),
        ...(o.allowUnverified ? { allowUnverified: true } : {}),
        ...(o.incidentAt ? { incidentAt: o.incidentAt } : {}),
        ...(o.approve ? { approve: o.approve } : {}),
        ...(o.into ? { into: o.into } : {}),
        ...(o.keep ? { keep: true } : {}),
      });
      await startAndFollow<DrReport>('disasterRecovery', o, (client, options) => startDisasterRecovery(client, input, options), (report) => genericSummary(report, `disaster recovery of stack ${o.stack}: ${drLine(report)}`));
    });
  }
  dr.command('status <workflowId>')
    .description('where a recovery stands: phase, components, RTO/RPO once validated')
    .option('--json', 'the whole report as JSON')
    .action(async (workflowId: string, o: { json?: boolean }) => {
      await withClient(async ({ client, namespace }) => {
        const report = await client.workflow.getHandle(workflowId).query<DrReport>('status');
        if (o.json) return void console.log(JSON.stringify(report, null, 2));
        console.log(`${workflowId}: ${drLine(report)}`);
        // What the operator is there for: the one command that lets the run go on.
        if (report.outcome === 'running' && report.phase === 'approve') console.log(`  waiting for approval: ${drApproveCommand(workflowId)}`);
        for (const [component, state] of Object.entries(report.components)) console.log(`  ${component}: ${state}`);
        console.log(`  ${webUiUrl(namespace, workflowId)}`);
      });
    });
  dr.command('approve <workflowId>')
    .description('approve the recovery the assess phase planned; refused unless the run waits for it')
    .action(async (workflowId: string) => {
      await withClient(async ({ client, namespace }) => {
        const answer = await askUpdate<{ approvedBy: string }>(client, workflowId, 'approve', [{ by: callerIdentity() }], (status) => `the recovery has ended (${status}): there is nothing to approve`);
        if (!answer.accepted) {
          console.error(`approve refused by ${workflowId}: ${answer.reason}`);
          process.exitCode = 1;
        } else console.log(`${workflowId}: approved by ${answer.result.approvedBy}`);
        console.log(`  ${webUiUrl(namespace, workflowId)}`);
      });
    });
}
