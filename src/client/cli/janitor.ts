import type { Command } from 'commander';
import { sweepOrphans, type JanitorReport } from '../../activities/janitor/index.js';
import { configPathFromEnv, loadStacksFile, stackOrThrow } from '../../config/load.js';
import { withClient } from './common.js';

export function formatJanitorReport(report: JanitorReport): string {
  const list = (title: string, items: string[]) => `${title}: ${items.length === 0 ? 'none' : items.join(', ')}`;
  return [
    list('dropped scratch databases', report.droppedDatabases),
    list('deleted scratch collections', report.deletedCollections),
    list('removed local drill dirs', report.removedTempDirs),
    list('stopped point-in-time scratch servers', report.stoppedScratchServers ?? []),
    list('removed point-in-time scratch dirs', report.removedPitrDirs ?? []),
    list('removed leftover pgBackRest configs', report.removedPgbackrestConfigs ?? []),
    ...(report.asideOriginals.length > 0 ? [list('KEPT originals a crashed restore renamed aside (check, then drop by hand)', report.asideOriginals)] : []),
    ...report.notes.map((note) => `note: ${note}`),
  ].join('\n');
}

export function addJanitorCommand(program: Command): void {
  program
    .command('janitor')
    .description('remove what crashed or terminated drills and restores left (scratch databases and collections of runs no longer running, old local drill dirs); only ragops-owned names')
    .requiredOption('--stack <name>', 'stack from the stacks file')
    .option('--config <file>', 'stacks file (default RAGOPS_CONFIG or ./ragops.yaml)')
    .option('--json', 'print the report as JSON')
    .action(async (o: { stack: string; config?: string; json?: boolean }) => {
      const stack = stackOrThrow(await loadStacksFile(o.config ?? configPathFromEnv()), o.stack);
      // The running runs are read from the same server and namespace the workers serve.
      const report = await withClient(({ client }) => sweepOrphans(stack, client));
      console.log(o.json ? JSON.stringify(report, null, 2) : formatJanitorReport(report));
    });
}
