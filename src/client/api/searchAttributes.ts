// The namespace check the worker (and `ragops dev`) runs before it serves: every search
// attribute ragops upserts must exist with its type, or every run would loop on
// workflow-task failures with nothing but the worker log saying why.
import type { SearchAttributeType } from '@temporalio/common';
import proto from '@temporalio/proto';
import { setTimeout as sleep } from 'node:timers/promises';
import { RAGOPS_SEARCH_ATTRIBUTES } from '../../core/searchAttributes.js';

/** What defineSearchAttributeKey returns (the SDK does not export its type). */
type AttributeKey = { name: string; type: SearchAttributeType };
type OperatorService = proto.temporal.api.operatorservice.v1.OperatorService;
const { IndexedValueType } = proto.temporal.api.enums.v1;

/** A NativeConnection (worker) or a client Connection: both carry the operator service. */
export interface OperatorConnection {
  operatorService: Pick<OperatorService, 'listSearchAttributes' | 'addSearchAttributes'>;
}

/** The server's enum and the `temporal` CLI's spelling of each type. */
const TYPES: Record<SearchAttributeType, { indexed: proto.temporal.api.enums.v1.IndexedValueType; cli: string }> = {
  TEXT: { indexed: IndexedValueType.INDEXED_VALUE_TYPE_TEXT, cli: 'Text' },
  KEYWORD: { indexed: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD, cli: 'Keyword' },
  INT: { indexed: IndexedValueType.INDEXED_VALUE_TYPE_INT, cli: 'Int' },
  DOUBLE: { indexed: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE, cli: 'Double' },
  BOOL: { indexed: IndexedValueType.INDEXED_VALUE_TYPE_BOOL, cli: 'Bool' },
  DATETIME: { indexed: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME, cli: 'Datetime' },
  KEYWORD_LIST: { indexed: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST, cli: 'KeywordList' },
};

export const cliTypeName = (type: SearchAttributeType): string => TYPES[type].cli;

function cliTypeOfIndexed(indexed: number): string {
  return Object.values(TYPES).find((entry) => entry.indexed === indexed)?.cli ?? `type ${indexed}`;
}

export interface SearchAttributeClash {
  name: string;
  want: string;
  found: string;
}

/** Which wanted attributes the namespace lacks, and which it has under another type. */
export function compareSearchAttributes(
  existing: Record<string, number>,
  wanted: readonly AttributeKey[] = RAGOPS_SEARCH_ATTRIBUTES,
): { missing: AttributeKey[]; clashing: SearchAttributeClash[] } {
  const missing = wanted.filter((key) => existing[key.name] === undefined);
  const clashing = wanted
    .filter((key) => existing[key.name] !== undefined && existing[key.name] !== TYPES[key.type].indexed)
    .map((key) => ({ name: key.name, want: cliTypeName(key.type), found: cliTypeOfIndexed(existing[key.name]!) }));
  return { missing, clashing };
}

/** The commands an operator runs to add the attributes, one per attribute. */
export function searchAttributeCreateCommands(namespace: string, keys: readonly AttributeKey[]): string[] {
  return keys.map((key) => `temporal operator search-attribute create --namespace ${namespace} --name ${key.name} --type ${cliTypeName(key.type)}`);
}

/** The namespace cannot hold ragops' search attributes as they are: the worker must not serve. */
export class SearchAttributesUnavailable extends Error {
  constructor(
    readonly namespace: string,
    readonly missing: string[],
    readonly clashing: SearchAttributeClash[],
    message: string,
  ) {
    super(message);
    this.name = 'SearchAttributesUnavailable';
  }
}

function unavailableMessage(
  namespace: string,
  missing: readonly AttributeKey[],
  clashing: readonly SearchAttributeClash[],
  reason: string,
): string {
  const lines = [`namespace "${namespace}" lacks search attributes ragops upserts, and the worker could not add them (${reason}).`];
  if (missing.length > 0) {
    lines.push(`Missing: ${missing.map((key) => `${key.name} (${cliTypeName(key.type)})`).join(', ')}. Create them (with --address/--env for your server), then start the worker again:`);
    lines.push(...searchAttributeCreateCommands(namespace, missing).map((command) => `  ${command}`));
  }
  for (const clash of clashing) {
    lines.push(
      `${clash.name} exists as ${clash.found} but ragops needs ${clash.want}: remove it (\`temporal operator search-attribute remove --namespace ${namespace} --name ${clash.name}\`) and create it as ${clash.want}:`,
      `  temporal operator search-attribute create --namespace ${namespace} --name ${clash.name} --type ${clash.want}`,
    );
  }
  return lines.join('\n');
}

async function listCustom(connection: OperatorConnection, namespace: string): Promise<Record<string, number>> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  return (customAttributes ?? {}) as Record<string, number>;
}

const VISIBLE_TIMEOUT_MS = 30_000;

/**
 * Makes sure the namespace has every ragops search attribute with its type: adds the missing
 * ones when the server lets this caller, and returns their names. Throws
 * SearchAttributesUnavailable, naming the commands to run, when it cannot.
 */
export async function ensureSearchAttributes(
  connection: OperatorConnection,
  namespace: string,
  wanted: readonly AttributeKey[] = RAGOPS_SEARCH_ATTRIBUTES,
): Promise<{ created: string[] }> {
  const { missing, clashing } = compareSearchAttributes(await listCustom(connection, namespace), wanted);
  if (clashing.length > 0) {
    throw new SearchAttributesUnavailable(namespace, missing.map((key) => key.name), clashing, unavailableMessage(namespace, missing, clashing, 'a type clashes'));
  }
  if (missing.length === 0) return { created: [] };
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((key) => [key.name, TYPES[key.type].indexed])),
    });
  } catch (error) {
    const reason = `the server refused: ${error instanceof Error ? error.message : String(error)}`;
    throw new SearchAttributesUnavailable(namespace, missing.map((key) => key.name), [], unavailableMessage(namespace, missing, [], reason));
  }
  await waitUntilListed(connection, namespace, wanted);
  return { created: missing.map((key) => key.name) };
}

async function waitUntilListed(
  connection: OperatorConnection,
  namespace: string,
  wanted: readonly AttributeKey[],
): Promise<void> {
  const deadline = Date.now() + VISIBLE_TIMEOUT_MS;
  for (;;) {
    const { missing } = compareSearchAttributes(await listCustom(connection, namespace), wanted);
    if (missing.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(`search attributes ${missing.map((key) => key.name).join(', ')} were added to namespace "${namespace}" but are still not listed after ${VISIBLE_TIMEOUT_MS / 1000} s`);
    }
    await sleep(500);
  }
}
