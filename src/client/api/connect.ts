import { Client, Connection } from '@temporalio/client';
import { temporalConnectConfig } from '../../config/temporal.js';
import { workflowUiUrl } from '../../core/webUi.js';

export interface Connected {
  client: Client;
  namespace: string;
  address: string;
  close(): Promise<void>;
}

/** A client from TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / TLS / API key, or the envconfig profile. */
export async function connectClient(overrides: { address?: string; namespace?: string } = {}): Promise<Connected> {
  const config = temporalConnectConfig();
  const address = overrides.address ?? config.connectionOptions.address;
  const namespace = overrides.namespace ?? config.namespace;
  const { address: _ignored, ...rest } = config.connectionOptions;
  const connection = await Connection.connect({ ...rest, address } as Parameters<typeof Connection.connect>[0]);
  const client = new Client({ connection, namespace });
  return { client, namespace, address, close: () => connection.close() };
}

/** Link to a run in the Web UI (RAGOPS_UI_URL, default the dev server's http://localhost:8233). */
export function webUiUrl(namespace: string, workflowId: string, runId?: string, env: NodeJS.ProcessEnv = process.env): string {
  return workflowUiUrl(env.RAGOPS_UI_URL, namespace, workflowId, runId);
}
