import type { Command } from 'commander';
import { webUiUrl } from '../api/connect.js';
import { approveReingest, reingestStatus, rollbackReingest } from '../api/reingest.js';
import { checkReingestInput, startReingest } from '../api/runbooks.js';
import type { ReingestReport } from '../../workflows/reingest/report.js';
import { startAndFollow, withClient, withRunOptions, type RunFlags } from './common.js';
import { genericSummary } from './summary.js';

/** One line an operator reads: phase, rows, gate, where the alias points. */
export function reingestLine(report: ReingestReport): string {
  const rows = `${report.ingest.rows}${report.sourceRows === null ? '' : ` of ${report.sourceRows}`} rows (${report.ingest.rowsPerSecond} rows/s)`;
  const gate = report.gate ? `, gate ${report.gate.passed ? 'passed' : 'FAILED'} (recall@${report.gate.k} ${report.gate.recall}, overlap ${report.gate.overlapWithLive ?? 'n/a'})` : '';
  return `${report.outcome}, phase ${report.phase}, ${rows}${gate}; ${report.alias}: ${report.live ?? '?'} → ${report.collection ?? '?'}${report.reason ? ` — ${report.reason}` : ''}`;
}

type RunOptions = RunFlags & { stack: string; alias: string; source: string; embedder: string; approve: string; window: string; pageSize?: string; batchSize?: string; concurrency?: string; keepOnFailure?: boolean };

export function addReingestCommands(program: Command): void {
  const reingest = program.command('reingest').description('the reingest runbook: blue-green re-ingestion of a Qdrant collection behind an alias');
  withRunOptions(
    reingest
      .command('run')
      .description("re-embed a source into a new collection, gate it on the golden set, switch the alias, keep the old one for the window")
      .requiredOption('--stack <name>', 'stack from the stacks file')
      .requiredOption('--alias <name>', 'the alias queries go through')
      .requiredOption('--source <name>', "a source of the stack's reingest.sources")
      .requiredOption('--embedder <name>', "an embedder of the stack's reingest.embedders")
      .option('--approve <mode>', 'auto, or manual (the switch waits for `ragops reingest approve`)', 'auto')
      .option('--window <duration>', 'rollback window after the switch', '24h')
      .option('--page-size <rows>', 'source rows per page (one checkpoint each)')
      .option('--batch-size <texts>', 'texts per embedding request')
      .option('--concurrency <n>', 'embedding requests in flight')
      .option('--keep-on-failure', 'keep the new collection when the gate fails'),
  ).action(async (o: RunOptions) => {
    const numbers = Object.fromEntries(
      (['pageSize', 'batchSize', 'concurrency'] as const).flatMap((key) => (o[key] === undefined ? [] : [[key, Number(o[key])]])),
    );
    const input = checkReingestInput({
      ...{ stack: o.stack, alias: o.alias, source: o.source, embedder: o.embedder, approve: o.approve, window: o.window },
      ...numbers,
      ...(o.keepOnFailure ? { keepOnFailure: true } : {}),
    });
    await startAndFollow<ReingestReport>('reingest', o, (client, options) => startReingest(client, input, options), (report) => genericSummary(report, `reingest of ${o.alias}: ${reingestLine(report)}`));
  });
  reingest
    .command('status <workflowId>')
    .description("print a re-ingestion's state: phase, rows, rate, last key, gate figures")
    .option('--json', 'the whole status as JSON')
    .action(async (workflowId: string, o: { json?: boolean }) => {
      await withClient(async ({ client, namespace }) => {
        const report = await reingestStatus(client, workflowId);
        if (o.json) return void console.log(JSON.stringify(report, null, 2));
        console.log(`${workflowId}: ${reingestLine(report)}`);
        console.log(`  ${webUiUrl(namespace, workflowId)}`);
      });
    });
  for (const [verb, ask, done] of [
    ['approve', approveReingest, (r: { switchedTo?: string }) => `approved: the alias now points at ${r.switchedTo}`],
    ['rollback', rollbackReingest, (r: { to?: string; detail?: string }) => `rolled back: the alias points at ${r.to} again (${r.detail})`],
  ] as const) {
    reingest
      .command(`${verb} <workflowId>`)
      .description(verb === 'approve' ? 'approve the switch (approve: manual); refused unless the run waits for it' : 'switch the alias back while the window is open; refused after it')
      .action(async (workflowId: string) => {
        await withClient(async ({ client, namespace }) => {
          const answer = await ask(client, workflowId);
          if (!answer.accepted) {
            console.error(`${verb} refused by ${workflowId}: ${answer.reason}`);
            process.exitCode = 1;
          } else {
            console.log(`${workflowId}: ${done(answer.result as never)}`);
          }
          console.log(`  ${webUiUrl(namespace, workflowId)}`);
        });
      });
  }
}
