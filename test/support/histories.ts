// Recorded workflow histories for the replay test (test/replay.test.ts). Integration tests
// call recordHistory() after a run worth keeping; it writes only when RAGOPS_RECORD_HISTORIES=1,
// so CI replays the committed files and never rewrites them.
import { execa } from 'execa';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import type { temporal } from '@temporalio/proto';
import { findTemporalCli } from '../../src/client/dev/devserver.js';

export const HISTORIES_DIR = fileURLToPath(new URL('../histories/', import.meta.url));

/**
 * Saves the workflow's history as test/histories/<name>.json when recording is on, in the
 * format `temporal workflow show --output json` prints (what operators export from a server).
 */
export async function recordHistory(server: { address: string }, workflowId: string, name: string): Promise<void> {
  if (process.env.RAGOPS_RECORD_HISTORIES !== '1') return;
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`history name "${name}": lower-case letters, digits and "-"`);
  const { stdout } = await execa(findTemporalCli(), ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json', '--address', server.address]);
  await writeFile(`${HISTORIES_DIR}${name}.json`, stdout.trim() + '\n');
}

export interface RecordedHistory {
  name: string;
  workflowId: string;
  history: temporal.api.history.v1.IHistory;
}

/** Every committed history, with the workflow type of its first event. */
export async function loadRecordedHistories(): Promise<Array<RecordedHistory & { workflowType: string }>> {
  const files = (await readdir(HISTORIES_DIR)).filter((file) => file.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (file) => {
      const history = historyFromJSON(JSON.parse(await readFile(`${HISTORIES_DIR}${file}`, 'utf8')));
      const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
      return { name: file.replace(/\.json$/, ''), workflowId: file.replace(/\.json$/, ''), history, workflowType: started?.workflowType?.name ?? '?' };
    }),
  );
}
