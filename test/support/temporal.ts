// A headless, in-memory Temporal dev server with a connected client, for tests.
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { startTemporalDevServer } from '../../src/client/dev/devserver.js';

export interface TestTemporal {
  address: string;
  namespace: string;
  client: Client;
  connection: Connection;
  stop(): Promise<void>;
}

export async function startTestTemporal(): Promise<TestTemporal> {
  const server = await startTemporalDevServer({ headless: true });
  try {
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection, namespace: server.namespace });
    return {
      address: server.address,
      namespace: server.namespace,
      client,
      connection,
      async stop() {
        await connection.close();
        await server.stop();
      },
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/**
 * The workflow's full history as JSON text (enum names, int64 as strings, bytes as base64),
 * with every payload's data and metadata then decoded from base64 to text, so a test can
 * search it for strings that must never be recorded (secrets).
 */
export async function exportHistoryJson(client: Client, workflowId: string): Promise<string> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  // Not @temporalio/common's historyToJSON: in this install common and proto each carry
  // their own protobufjs 8 copy, and its toJson rejects the other copy's types.
  const { History } = proto.temporal.api.history.v1;
  const plain = History.toObject(History.fromObject(history), { longs: String, enums: String, bytes: String });
  return JSON.stringify(decodePayloads(plain), null, 2);
}

const fromBase64 = (text: string): string => Buffer.from(text, 'base64').toString('utf8');

/** In proto JSON a payload is `{ metadata: { key: base64 }, data?: base64 }`. */
function isPayload(value: Record<string, unknown>): value is { metadata: Record<string, string>; data?: string } {
  const { metadata, data } = value;
  return (
    typeof metadata === 'object' &&
    metadata !== null &&
    !Array.isArray(metadata) &&
    Object.values(metadata).every((v) => typeof v === 'string') &&
    (data === undefined || typeof data === 'string')
  );
}

/** Walks every array and object, decoding each payload found at any depth. */
function decodePayloads(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodePayloads);
  if (typeof value !== 'object' || value === null) return value;
  const object = value as Record<string, unknown>;
  if (isPayload(object)) {
    const metadata = Object.fromEntries(Object.entries(object.metadata).map(([k, v]) => [k, fromBase64(v)]));
    const rest = Object.fromEntries(Object.entries(object).filter(([k]) => k !== 'metadata' && k !== 'data'));
    return { ...decodePayloads(rest) as object, metadata, data: object.data === undefined ? undefined : fromBase64(object.data) };
  }
  return Object.fromEntries(Object.entries(object).map(([key, child]) => [key, decodePayloads(child)]));
}
