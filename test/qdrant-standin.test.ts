// Contract tests for the Qdrant stand-in (test/support/qdrant): each checks one promise of
// /work/shared/qdrant-rest-contract.md, through the real JS client where ragops uses it and
// through raw fetch where the client cannot (202s, downloads, uploads, plain-text errors).
// With RAGOPS_TEST_QDRANT_URL set they run against that real Qdrant instead (see
// docs/testing-against-real-services.md), skipping what only the stand-in can do.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { QdrantClient, QdrantClientResourceExhaustedError, type Schemas } from '@qdrant/js-client-rest';
import { readSnapshotTar, readTar, writeTar, type QdrantStandin } from './support/qdrant/index.js';
import { qdrantIsExternal, qdrantUnderTest, requiresStandin, type QdrantUnderTest } from './support/targets.js';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
/** Every collection and alias name carries this per-run prefix, so it cannot clash with a real server's own. */
const P = `t${randomBytes(4).toString('hex')}_`;
const c = (name: string) => `${P}${name}`;
const unprefixed = (name: string) => name.slice(P.length);
/** The names this run made, prefix removed, in the order given (a real server may hold others). */
const ours = (names: string[]) => names.filter((name) => name.startsWith(P)).map(unprefixed);
const collectionNames = async (client: QdrantClient) => ours((await client.getCollections()).collections.map((entry) => entry.name));
/** The `api-key` header for the handle's key, if it has one. */
const keyHeaders = (standin: QdrantStandin): Record<string, string> => (standin.apiKey ? { 'api-key': standin.apiKey } : {});
const NAME_PATTERN = (collection: string) => new RegExp(`^${collection}-\\d+-\\d{4}-\\d{2}-\\d{2}-\\d{2}-\\d{2}-\\d{2}\\.snapshot$`);

interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/** fetch against the stand-in; JSON bodies get a JSON content type, `key` goes in `api-key`. */
async function raw(
  standin: QdrantStandin,
  method: string,
  path: string,
  options: { body?: unknown; key?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const headers: Record<string, string> = { ...options.headers };
  const key = options.key ?? standin.apiKey;
  if (key) headers['api-key'] = key;
  let body: string | FormData | undefined;
  if (options.body instanceof FormData) body = options.body;
  else if (typeof options.body === 'string') body = options.body;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (typeof body === 'string' && !headers['content-type']) headers['content-type'] = 'application/json';
  const response = await fetch(`${standin.url}${path}`, { method, headers, body });
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** The client's error for a failed call: status and the decoded error envelope. */
async function clientError(promise: Promise<unknown>): Promise<{ status: number; data: any }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { status?: number; data?: unknown };
    assert.equal(typeof e.status, 'number', `expected an HTTP error, got ${String(error)}`);
    return { status: e.status as number, data: e.data };
  }
  assert.fail('expected the call to fail');
}

function assertErrorEnvelope(response: RawResponse, status: number, message: string | RegExp): void {
  assert.equal(response.status, status, response.text);
  assert.equal(response.json?.result, undefined);
  assert.equal(typeof response.json?.time, 'number');
  if (typeof message === 'string') assert.equal(response.json.status.error, message);
  else assert.match(response.json.status.error, message);
}

/** A one-file HTTP server answering every request with `bytes` (or `status` only). */
async function serveBytes(bytes: Uint8Array, status = 200): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((_req, res) => res.writeHead(status, { 'content-type': 'application/octet-stream' }).end(bytes));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/x.snapshot`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

async function allPoints(client: QdrantClient, collection: string): Promise<Schemas['Record'][]> {
  return (await client.scroll(collection, { limit: 1000, with_payload: true, with_vector: true })).points;
}

function newClient(standin: QdrantStandin, apiKey = standin.apiKey): QdrantClient {
  return new QdrantClient({ url: standin.url, apiKey, checkCompatibility: false });
}

describe('root, probes and envelopes', () => {
  let standin: QdrantUnderTest;
  before(async () => {
    standin = await qdrantUnderTest();
  });
  after(() => standin.stop());

  test('GET / is unenveloped and reports 1.19.0; the client reads it', async () => {
    const response = await raw(standin, 'GET', '/');
    assert.equal(response.status, 200);
    assert.equal(response.json.title, 'qdrant - vector search engine');
    assert.equal(response.json.version, '1.19.0');
    assert.equal(response.json.result, undefined);
    const info = await new QdrantClient({ url: standin.url }).versionInfo();
    assert.equal(info.version, '1.19.0');
  });

  test('probes answer plain text', async () => {
    const probes = [['/healthz', 'healthz check passed'], ['/livez', 'healthz check passed'], ['/readyz', 'all shards are ready']] as const;
    for (const [path, body] of probes) {
      const response = await raw(standin, 'GET', path);
      assert.equal(response.status, 200);
      assert.equal(response.text, body);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    }
  });

  test('success envelope has result, status "ok" and a float time', async () => {
    const response = await raw(standin, 'GET', '/collections');
    assert.equal(response.status, 200);
    assert.deepEqual(Object.keys(response.json).sort(), ['result', 'status', 'time']);
    assert.equal(response.json.status, 'ok');
    assert.equal(typeof response.json.time, 'number');
    assert.deepEqual(Object.keys(response.json.result), ['collections']);
    assert.deepEqual(ours(response.json.result.collections.map((entry: { name: string }) => entry.name)), []);
  });

  test('missing collection: 404 with the exact message', async () => {
    const message = `Not found: Collection \`${c('docs')}\` doesn't exist!`;
    assertErrorEnvelope(await raw(standin, 'GET', `/collections/${c('docs')}`), 404, message);
    const error = await clientError(newClient(standin).getCollection(c('docs')));
    assert.equal(error.status, 404);
    assert.equal(error.data.status.error, message);
  });

  test('existing collection: 409 with the exact message', async () => {
    const body = { vectors: { size: 4, distance: 'Dot' } };
    assert.equal((await raw(standin, 'PUT', `/collections/${c('twice')}`, { body })).json.result, true);
    const again = await raw(standin, 'PUT', `/collections/${c('twice')}`, { body });
    assertErrorEnvelope(again, 409, `Wrong input: Collection \`${c('twice')}\` already exists!`);
  });

  test('unparsable or wrong-shaped JSON: 400 Format error with time 0', async () => {
    const garbage = await raw(standin, 'PUT', `/collections/${c('bad')}`, { body: '{"vectors": ' });
    assertErrorEnvelope(garbage, 400, /^Format error in JSON body: EOF while parsing/);
    assert.equal(garbage.json.time, 0);
    const lowerCase = await raw(standin, 'PUT', `/collections/${c('bad')}`, { body: { vectors: { size: 4, distance: 'cosine' } } });
    assertErrorEnvelope(lowerCase, 400, /^Format error in JSON body: /);
    const notJson = await raw(standin, 'PUT', `/collections/${c('bad')}`, { body: '{}', headers: { 'content-type': 'text/plain' } });
    assertErrorEnvelope(notJson, 400, 'Format error in JSON body: Content type error');
    assert.equal((await raw(standin, 'GET', `/collections/${c('bad')}/exists`)).json.result.exists, false);
  });

  test('field validation: 422 for vector size 0', async () => {
    const response = await raw(standin, 'PUT', `/collections/${c('bad')}`, { body: { vectors: { size: 0, distance: 'Cosine' } } });
    assertErrorEnvelope(response, 422, /^Validation error in JSON body: \[vectors\.size: .*\]$/);
  });
});

describe('api-key auth', () => {
  let standin: QdrantUnderTest;
  // A real Qdrant has the key it was started with (RAGOPS_TEST_QDRANT_API_KEY), if any.
  const needsKey = qdrantIsExternal && !process.env['RAGOPS_TEST_QDRANT_API_KEY']
    && 'needs a Qdrant started with an api key: set RAGOPS_TEST_QDRANT_API_KEY';
  before(async () => {
    standin = await qdrantUnderTest({ apiKey: 'secret', readOnlyApiKey: 'reader' });
    await raw(standin, 'PUT', `/collections/${c('docs')}`, { body: { vectors: { size: 2, distance: 'Cosine' } } });
  });
  after(() => standin.stop());

  test('a missing or wrong key answers 401 in plain text', { skip: needsKey }, async () => {
    for (const headers of [{}, { 'api-key': 'wrong' }, { authorization: 'Bearer wrong' }] as Record<string, string>[]) {
      const response = await fetch(`${standin.url}/collections`, { headers });
      assert.equal(response.status, 401);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
      const text = await response.text();
      assert.ok(text.length > 0);
      assert.throws(() => JSON.parse(text));
    }
    assert.equal((await clientError(newClient(standin, 'wrong').getCollections())).status, 401);
  });

  test('the key works as api-key header or as a bearer token', { skip: needsKey }, async () => {
    const key = standin.apiKey ?? '';
    assert.equal((await fetch(`${standin.url}/collections`, { headers: { 'api-key': key } })).status, 200);
    assert.equal((await fetch(`${standin.url}/collections`, { headers: { authorization: `Bearer ${key}` } })).status, 200);
    const { collections } = await newClient(standin).getCollections();
    assert.ok(collections.every((entry) => Object.keys(entry).join() === 'name'));
    assert.deepEqual(ours(collections.map((entry) => entry.name)), ['docs']);
  });

  test('/, probes need no key', async () => {
    for (const path of ['/', '/healthz', '/livez', '/readyz']) assert.equal((await fetch(`${standin.url}${path}`)).status, 200, path);
  });

  test('the read-only key reads (including POST reads) but gets 403 on writes', { skip: requiresStandin('its read-only key') }, async () => {
    const reader = newClient(standin, 'reader');
    assert.equal((await reader.getCollection(c('docs'))).status, 'green');
    assert.deepEqual(await reader.count(c('docs')), { count: 0 });
    assert.deepEqual((await reader.scroll(c('docs'))).points, []);
    const body = { points: [{ id: 1, vector: [1, 0] }] };
    const write = await raw(standin, 'PUT', `/collections/${c('docs')}/points?wait=true`, { key: 'reader', body });
    assertErrorEnvelope(write, 403, /^Forbidden: /);
    assert.equal((await clientError(reader.createCollection(c('other'), { vectors: { size: 2, distance: 'Dot' } }))).status, 403);
    assert.equal((await clientError(reader.deleteCollection(c('docs')))).status, 403);
    assert.equal((await newClient(standin).getCollection(c('docs'))).points_count, 0);
  });
});

describe('collections', () => {
  let standin: QdrantUnderTest;
  let client: QdrantClient;
  before(async () => {
    standin = await qdrantUnderTest();
    client = newClient(standin);
  });
  after(() => standin.stop());

  test('create an unnamed-vector collection and read its CollectionInfo', async () => {
    assert.equal(await client.createCollection(c('single'), { vectors: { size: 4, distance: 'Euclid' } }), true);
    const info = await client.getCollection(c('single'));
    assert.equal(info.status, 'green');
    assert.equal(info.optimizer_status, 'ok');
    assert.equal(info.points_count, 0);
    assert.equal(info.indexed_vectors_count, 0);
    assert.equal(typeof info.segments_count, 'number');
    assert.deepEqual(info.config.params, {
      vectors: { size: 4, distance: 'Euclid' }, shard_number: 1, replication_factor: 1, write_consistency_factor: 1, on_disk_payload: true,
    });
    assert.equal(typeof info.config.hnsw_config.m, 'number');
    assert.equal(typeof info.config.optimizer_config.flush_interval_sec, 'number');
    assert.equal(typeof (info.config.wal_config as Schemas['WalConfig']).wal_capacity_mb, 'number');
    assert.equal(info.config.quantization_config, null);
    assert.deepEqual(info.payload_schema, {});
  });

  test('create a named-vectors collection', async () => {
    await client.createCollection(c('named'), { vectors: { text: { size: 3, distance: 'Cosine' }, image: { size: 2, distance: 'Dot' } } });
    const info = await client.getCollection(c('named'));
    assert.deepEqual(info.config.params.vectors, { text: { size: 3, distance: 'Cosine' }, image: { size: 2, distance: 'Dot' } });
  });

  test('every distance name is accepted exactly as spelled', async () => {
    for (const distance of ['Cosine', 'Euclid', 'Dot', 'Manhattan'] as const) {
      assert.equal(await client.createCollection(c(`d-${distance}`), { vectors: { size: 2, distance } }), true);
      await client.deleteCollection(c(`d-${distance}`));
    }
  });

  test('exists, list and delete (true, then false when missing)', async () => {
    await client.createCollection(c('temp'), { vectors: { size: 2, distance: 'Dot' } });
    assert.deepEqual(await client.collectionExists(c('temp')), { exists: true });
    assert.ok((await collectionNames(client)).includes('temp'));
    assert.equal(await client.deleteCollection(c('temp')), true);
    assert.deepEqual(await client.collectionExists(c('temp')), { exists: false });
    assert.equal(await client.deleteCollection(c('temp')), false);
  });

  test('payload index is recorded in payload_schema', async () => {
    await client.upsert(c('single'), { points: [{ id: 1, vector: [1, 2, 3, 4], payload: { lang: 'en' } }, { id: 2, vector: [1, 1, 1, 1] }] });
    const result = await client.createPayloadIndex(c('single'), { field_name: 'lang', field_schema: 'keyword', wait: true });
    assert.equal(result.status, 'completed');
    assert.deepEqual((await client.getCollection(c('single'))).payload_schema, { lang: { data_type: 'keyword', points: 1 } });
  });
});

describe('aliases', () => {
  let standin: QdrantUnderTest;
  let client: QdrantClient;
  before(async () => {
    standin = await qdrantUnderTest();
    client = newClient(standin);
    for (const name of ['docs_v1', 'docs_v2']) await client.createCollection(c(name), { vectors: { size: 2, distance: 'Dot' } });
  });
  after(() => standin.stop());

  const createAlias = (collection_name: string, alias_name: string) =>
    client.updateCollectionAliases({ actions: [{ create_alias: { collection_name, alias_name } }] });
  /** This run's aliases, alias → collection, prefixes removed. */
  const aliasMap = async () =>
    Object.fromEntries((await client.getAliases()).aliases
      .filter((a) => a.alias_name.startsWith(P))
      .map((a) => [unprefixed(a.alias_name), unprefixed(a.collection_name)]));

  test('create, list, resolve for reads and writes; aliases are not collections', async () => {
    assert.equal(await createAlias(c('docs_v1'), c('prod')), true);
    assert.deepEqual(await aliasMap(), { prod: 'docs_v1' });
    assert.deepEqual(await client.getCollectionAliases(c('docs_v1')), { aliases: [{ alias_name: c('prod'), collection_name: c('docs_v1') }] });
    assert.deepEqual((await collectionNames(client)).sort(), ['docs_v1', 'docs_v2']);
    await client.upsert(c('prod'), { points: [{ id: 1, vector: [1, 1] }] });
    assert.deepEqual(await client.count(c('docs_v1')), { count: 1 });
    assert.equal((await client.getCollection(c('prod'))).points_count, 1);
    assert.deepEqual(await client.collectionExists(c('prod')), { exists: true });
  });

  test('create on an existing alias re-points it; deleting a missing alias is fine', async () => {
    await client.updateCollectionAliases({
      actions: [{ create_alias: { collection_name: c('docs_v2'), alias_name: c('prod') } }, { delete_alias: { alias_name: c('never-was') } }],
    });
    assert.deepEqual(await aliasMap(), { prod: 'docs_v2' });
  });

  test('errors: missing collection 404, alias named like a collection 409, rename of a missing alias 404', async () => {
    const missing = await clientError(createAlias(c('nope'), c('x')));
    assert.equal(missing.status, 404);
    assert.equal(missing.data.status.error, `Not found: Collection \`${c('nope')}\` doesn't exist!`);
    const clash = await clientError(createAlias(c('docs_v2'), c('docs_v1')));
    assert.equal(clash.status, 409);
    const rename = await clientError(
      client.updateCollectionAliases({ actions: [{ rename_alias: { old_alias_name: c('ghost'), new_alias_name: c('y') } }] }),
    );
    assert.equal(rename.status, 404);
    const named = await raw(standin, 'PUT', `/collections/${c('prod')}`, { body: { vectors: { size: 2, distance: 'Dot' } } });
    assertErrorEnvelope(named, 400, /^Wrong input: .*Alias with the same name already exists/);
  });

  test('a batch with one bad action changes nothing', async () => {
    const before = await aliasMap();
    const error = await clientError(client.updateCollectionAliases({
      actions: [
        { delete_alias: { alias_name: c('prod') } },
        { create_alias: { collection_name: c('docs_v1'), alias_name: c('staging') } },
        { rename_alias: { old_alias_name: c('ghost'), new_alias_name: c('z') } },
      ],
    }));
    assert.equal(error.status, 404);
    assert.deepEqual(await aliasMap(), before);
  });

  test('rename moves the alias', async () => {
    await client.updateCollectionAliases({ actions: [{ rename_alias: { old_alias_name: c('prod'), new_alias_name: c('live') } }] });
    assert.deepEqual(await aliasMap(), { live: 'docs_v2' });
  });

  test('DELETE collection does not resolve aliases, and removes the collection\'s aliases', async () => {
    assert.equal(await client.deleteCollection(c('live')), false);
    assert.deepEqual(await client.collectionExists(c('docs_v2')), { exists: true });
    assert.equal(await client.deleteCollection(c('docs_v2')), true);
    assert.deepEqual(await aliasMap(), {});
  });
});

describe('points', () => {
  let standin: QdrantUnderTest;
  let client: QdrantClient;
  const uuidA = '00000000-0000-0000-0000-00000000000a';
  const uuidB = '00000000-0000-0000-0000-00000000000b';
  before(async () => {
    standin = await qdrantUnderTest();
    client = newClient(standin);
  });
  after(() => standin.stop());

  test('upsert as a list and as a batch; wait=true completes, server default acknowledges', async () => {
    await client.createCollection(c('mixed'), { vectors: { size: 2, distance: 'Dot' } });
    const listed = await client.upsert(c('mixed'), {
      points: [
        { id: 5, vector: [1, 0], payload: { n: 5 } },
        { id: uuidB.toUpperCase(), vector: [0, 1], payload: { n: 'b' } },
        { id: 1, vector: [1, 1] },
      ],
    });
    assert.equal(listed.status, 'completed');
    assert.equal(typeof listed.operation_id, 'number');
    const batched = await client.upsert(c('mixed'), {
      batch: { ids: [3, uuidA, 2, 4], vectors: [[1, 2], [2, 1], [3, 3], [4, 0]], payloads: [{ n: 3 }, { n: 'a' }, { n: 2 }, { n: 4 }] },
    });
    assert.ok((batched.operation_id ?? 0) > (listed.operation_id ?? 0));
    const noWait = await raw(standin, 'PUT', `/collections/${c('mixed')}/points`, { body: { points: [{ id: 1, vector: [1, 1], payload: { n: 1 } }] } });
    assert.equal(noWait.json.result.status, 'acknowledged');
    assert.deepEqual(await client.count(c('mixed'), { exact: true }), { count: 7 });
  });

  test('count with a match filter', async () => {
    assert.deepEqual(await client.count(c('mixed'), { filter: { must: [{ key: 'n', match: { value: 'a' } }] } }), { count: 1 });
    assert.deepEqual(await client.count(c('mixed'), { filter: { must: [{ key: 'n', match: { value: 'zzz' } }] } }), { count: 0 });
  });

  test('scroll pages in id order (integers, then UUIDs), offset inclusive', async () => {
    const first = await client.scroll(c('mixed'), { limit: 3, with_payload: false });
    assert.deepEqual(first.points, [{ id: 1 }, { id: 2 }, { id: 3 }]);
    assert.equal(first.next_page_offset, 4);
    const second = await client.scroll(c('mixed'), { limit: 3, offset: 4 });
    assert.deepEqual(second.points.map((p) => p.id), [4, 5, uuidA]);
    assert.deepEqual(second.points.map((p) => p.payload), [{ n: 4 }, { n: 5 }, { n: 'a' }]);
    assert.ok(second.points.every((p) => !('vector' in p)));
    assert.equal(second.next_page_offset, uuidB);
    const last = await client.scroll(c('mixed'), { limit: 3, offset: uuidB, with_vector: true });
    assert.deepEqual(last.points, [{ id: uuidB, payload: { n: 'b' }, vector: [0, 1] }]);
    assert.equal(last.next_page_offset ?? null, null);
  });

  test('scroll with limit 0 is a 422 validation error', async () => {
    const response = await raw(standin, 'POST', `/collections/${c('mixed')}/points/scroll`, { body: { limit: 0 } });
    assertErrorEnvelope(response, 422, /^Validation error in JSON body: \[limit: /);
  });

  test('retrieve by ids skips missing ones', async () => {
    const records = await client.retrieve(c('mixed'), { ids: [2, 99, uuidA], with_vector: true });
    assert.deepEqual(records, [{ id: 2, payload: { n: 2 }, vector: [3, 3] }, { id: uuidA, payload: { n: 'a' }, vector: [2, 1] }]);
  });

  test('wrong dimension: 400 with Qdrant\'s text; bad ids are format errors', async () => {
    const error = await clientError(client.upsert(c('mixed'), { points: [{ id: 9, vector: [1, 2, 3] }] }));
    assert.equal(error.status, 400);
    assert.equal(error.data.status.error, 'Wrong input: Vector dimension error: expected dim: 2, got 3');
    const negative = await raw(standin, 'PUT', `/collections/${c('mixed')}/points`, { body: { points: [{ id: -1, vector: [1, 2] }] } });
    assertErrorEnvelope(negative, 400, /^Format error in JSON body: /);
    assert.deepEqual(await client.count(c('mixed')), { count: 7 });
  });

  test('Cosine stores unit vectors and ranks by similarity, best first', async () => {
    await client.createCollection(c('cos'), { vectors: { size: 2, distance: 'Cosine' } });
    await client.upsert(c('cos'), { points: [
      { id: 1, vector: [2, 0] }, { id: 2, vector: [0.8, 0.6] }, { id: 3, vector: [0, 5] }, { id: 4, vector: [-1, 0] },
    ] });
    for (const point of await allPoints(client, c('cos'))) {
      const v = point.vector as number[];
      assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-6, `point ${point.id} has length ${Math.hypot(...v)}`);
    }
    const result = await client.query(c('cos'), { query: [1, 0.1], limit: 10 });
    assert.deepEqual(result.points.map((p) => p.id), [1, 2, 3, 4]);
    const norm = Math.hypot(1, 0.1);
    const expected = [1 / norm, (0.8 + 0.06) / norm, 0.1 / norm, -1 / norm];
    result.points.forEach((p, i) => assert.ok(Math.abs(p.score - (expected[i] ?? NaN)) < 1e-5, `score ${p.score} vs ${expected[i]}`));
  });

  test('query by point id (itself left out) and by {nearest}; limit, with_payload, with_vector', async () => {
    const byId = await client.query(c('cos'), { query: 1, limit: 2 });
    assert.deepEqual(byId.points.map((p) => p.id), [2, 3]);
    assert.ok(byId.points.every((p) => !('payload' in p) && !('vector' in p) && typeof p.version === 'number'));
    const nearest = await client.query(c('cos'), { query: { nearest: [0, 1] }, limit: 1, with_vector: true, with_payload: true });
    assert.deepEqual(nearest.points.map((p) => [p.id, p.payload, p.vector]), [[3, {}, [0, 1]]]);
  });

  test('Euclid ranks by distance, lowest first, and returns the distance as score', async () => {
    await client.createCollection(c('euc'), { vectors: { size: 2, distance: 'Euclid' } });
    const vectors = [[0, 0], [3, 4], [1, 1], [10, 0]];
    await client.upsert(c('euc'), { points: vectors.map((vector, i) => ({ id: i + 1, vector })) });
    const result = await client.query(c('euc'), { query: [0, 0] });
    assert.deepEqual(result.points.map((p) => [p.id, p.score]), [[1, 0], [3, Math.fround(Math.SQRT2)], [2, 5], [4, 10]]);
    const stored = await client.retrieve(c('euc'), { ids: [2], with_vector: true });
    assert.deepEqual(stored[0]?.vector, [3, 4]);
  });

  test('Dot and Manhattan order as Qdrant does', async () => {
    await client.createCollection(c('dot'), { vectors: { size: 2, distance: 'Dot' } });
    await client.upsert(c('dot'), { points: [{ id: 1, vector: [1, 0] }, { id: 2, vector: [2, 2] }, { id: 3, vector: [-1, 0] }] });
    assert.deepEqual((await client.query(c('dot'), { query: [1, 1] })).points.map((p) => [p.id, p.score]), [[2, 4], [1, 1], [3, -1]]);
    await client.createCollection(c('man'), { vectors: { size: 2, distance: 'Manhattan' } });
    await client.upsert(c('man'), { points: [{ id: 1, vector: [1, 1] }, { id: 2, vector: [0, 3] }, { id: 3, vector: [0.5, 0] }] });
    assert.deepEqual((await client.query(c('man'), { query: [0, 0] })).points.map((p) => [p.id, p.score]), [[3, 0.5], [1, 2], [2, 3]]);
  });

  test('named vectors: `using` picks the vector; a wrong dimension is still a 400', async () => {
    await client.createCollection(c('multi'), { vectors: { text: { size: 2, distance: 'Dot' }, image: { size: 3, distance: 'Euclid' } } });
    await client.upsert(c('multi'), { points: [
      { id: 1, vector: { text: [1, 0], image: [0, 0, 0] } },
      { id: 2, vector: { text: [0, 1], image: [5, 5, 5] } },
    ] });
    assert.deepEqual((await client.query(c('multi'), { query: [0, 2], using: 'text' })).points.map((p) => p.id), [2, 1]);
    assert.deepEqual((await client.query(c('multi'), { query: [0, 0, 0], using: 'image' })).points.map((p) => p.id), [1, 2]);
    const [record] = await client.retrieve(c('multi'), { ids: [2], with_vector: true });
    assert.deepEqual(record?.vector, { text: [0, 1], image: [5, 5, 5] });
    const error = await clientError(client.query(c('multi'), { query: [1, 2, 3], using: 'text' }));
    assert.equal(error.data.status.error, 'Wrong input: Vector dimension error: expected dim: 2, got 3');
  });
});

describe('snapshots: create, list, download, delete', () => {
  let standin: QdrantUnderTest;
  let client: QdrantClient;
  before(async () => {
    standin = await qdrantUnderTest({ apiKey: 'k' });
    client = newClient(standin);
    await client.createCollection(c('docs'), { vectors: { size: 3, distance: 'Cosine' } });
    await client.upsert(c('docs'), { points: [
      { id: 1, vector: [1, 2, 3], payload: { title: 'one' } },
      { id: '5f0c7c1e-9a1b-4c2d-8e3f-0a1b2c3d4e5f', vector: [3, 2, 1], payload: { title: 'uuid', tags: ['a', 'b'] } },
    ] });
  });
  after(() => standin.stop());

  test('create → list → download (checksum matches, valid tar) → delete', async () => {
    const description = await client.createSnapshot(c('docs'));
    assert.ok(description);
    assert.match(description.name, NAME_PATTERN(c('docs')));
    assert.match(description.creation_time ?? '', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
    assert.match(description.checksum ?? '', /^[0-9a-f]{64}$/);
    assert.deepEqual(await client.listSnapshots(c('docs')), [description]);

    const response = await fetch(`${standin.url}/collections/${c('docs')}/snapshots/${description.name}`, { headers: keyHeaders(standin) });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/octet-stream');
    assert.match(response.headers.get('content-disposition') ?? '', new RegExp(`attachment; filename="${description.name}"`));
    const bytes = new Uint8Array(await response.arrayBuffer());
    assert.equal(bytes.length, description.size);
    assert.equal(sha256(bytes), description.checksum);

    // The top-level layout is the contract's; 0/points.jsonl and its contents are the stand-in's own format.
    const names = readTar(Buffer.from(bytes)).map((e) => `${e.name}${e.type === 'directory' ? '/' : ''}`);
    const expected = ['config.json', 'version.info', 'payload_index.json', 'shard_key_mapping.json', '0/'];
    for (const name of standin.external ? expected : [...expected, '0/points.jsonl']) {
      assert.ok(names.includes(name), `${name} missing from ${names.join(', ')}`);
    }
    if (!standin.external) {
      const contents = readSnapshotTar(Buffer.from(bytes));
      assert.deepEqual(contents.config.params.vectors, { size: 3, distance: 'Cosine' });
      assert.equal(contents.version, '1.19.0');
      assert.deepEqual(contents.points.map((p) => p.payload), [{ title: 'one' }, { title: 'uuid', tags: ['a', 'b'] }]);
    }

    assert.equal(await client.deleteSnapshot(c('docs'), description.name), true);
    assert.deepEqual(await client.listSnapshots(c('docs')), []);
    assert.equal((await clientError(client.deleteSnapshot(c('docs'), description.name))).status, 404);
  });

  test('snapshots in the same second still get distinct Qdrant-style names; lists are per collection', async () => {
    await client.createCollection(c('other'), { vectors: { size: 3, distance: 'Cosine' } });
    const made = await Promise.all([client.createSnapshot(c('docs')), client.createSnapshot(c('docs')), client.createSnapshot(c('docs'))]);
    const names = made.map((d) => d?.name ?? '');
    assert.equal(new Set(names).size, 3);
    for (const name of names) assert.match(name, NAME_PATTERN(c('docs')));
    assert.equal((await client.listSnapshots(c('docs'))).length, 3);
    assert.deepEqual(await client.listSnapshots(c('other')), []);
    for (const name of names) await client.deleteSnapshot(c('docs'), name);
  });

  test('wait=false answers 202 accepted and creates the snapshot anyway', async () => {
    const response = await raw(standin, 'POST', `/collections/${c('docs')}/snapshots?wait=false`);
    assert.equal(response.status, 202);
    assert.equal(response.json.status, 'accepted');
    assert.equal(typeof response.json.time, 'number');
    assert.equal(response.json.result, undefined);
    let listed: Schemas['SnapshotDescription'][] = [];
    for (let i = 0; i < 50 && listed.length === 0; i++) {
      listed = await client.listSnapshots(c('docs'));
      if (listed.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(listed.length, 1);
    await client.deleteSnapshot(c('docs'), listed[0]?.name ?? '');
  });

  test('Range downloads answer 206 with the requested bytes; unsatisfiable ranges 416', async () => {
    const description = await client.createSnapshot(c('docs'));
    const url = `${standin.url}/collections/${c('docs')}/snapshots/${description?.name}`;
    const whole = new Uint8Array(await (await fetch(url, { headers: keyHeaders(standin) })).arrayBuffer());
    const part = await fetch(url, { headers: { ...keyHeaders(standin), range: 'bytes=100-611' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 100-611/${whole.length}`);
    assert.deepEqual(new Uint8Array(await part.arrayBuffer()), whole.slice(100, 612));
    const tail = await fetch(url, { headers: { ...keyHeaders(standin), range: 'bytes=-10' } });
    assert.equal(tail.status, 206);
    assert.deepEqual(new Uint8Array(await tail.arrayBuffer()), whole.slice(whole.length - 10));
    const beyond = await fetch(url, { headers: { ...keyHeaders(standin), range: `bytes=${whole.length}-` } });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get('content-range'), `bytes */${whole.length}`);
    await client.deleteSnapshot(c('docs'), description?.name ?? '');
  });

  test('downloading a missing snapshot is a 404', async () => {
    const response = await fetch(`${standin.url}/collections/${c('docs')}/snapshots/nope.snapshot`, { headers: keyHeaders(standin) });
    assert.equal(response.status, 404);
    await response.arrayBuffer();
  });
});

describe('snapshots: recover and upload', () => {
  let standin: QdrantUnderTest;
  let client: QdrantClient;
  let snapshot: Schemas['SnapshotDescription'];
  let bytes: Uint8Array;
  let downloadUrl: string;
  before(async () => {
    standin = await qdrantUnderTest({ apiKey: 'k' });
    client = newClient(standin);
    await client.createCollection(c('source'), { vectors: { size: 4, distance: 'Cosine' }, hnsw_config: { m: 32 } });
    await client.createPayloadIndex(c('source'), { field_name: 'lang', field_schema: 'keyword', wait: true });
    await client.upsert(c('source'), { points: Array.from({ length: 25 }, (_, i) => ({
      id: i + 1, vector: [i + 1, 2, 3, -i], payload: { lang: i % 2 ? 'en' : 'de', i },
    })) });
    snapshot = (await client.createSnapshot(c('source'))) as Schemas['SnapshotDescription'];
    downloadUrl = `${standin.url}/collections/${c('source')}/snapshots/${snapshot.name}`;
    bytes = new Uint8Array(await (await fetch(downloadUrl, { headers: keyHeaders(standin) })).arrayBuffer());
  });
  after(() => standin.stop());

  test('recover from the stand-in\'s own download URL into a new collection: identical points and config', async () => {
    const checksum = snapshot.checksum ?? undefined;
    assert.equal(await client.recoverSnapshot(c('copy'), { location: downloadUrl, priority: 'snapshot', checksum, api_key: standin.apiKey }), true);
    assert.deepEqual(await allPoints(client, c('copy')), await allPoints(client, c('source')));
    const [source, copy] = [await client.getCollection(c('source')), await client.getCollection(c('copy'))];
    assert.deepEqual(copy.config, source.config);
    assert.deepEqual(copy.payload_schema, source.payload_schema);
  });

  test('recover from another HTTP server into an existing compatible collection replaces its points', async () => {
    const server = await serveBytes(bytes);
    try {
      await client.createCollection(c('target'), { vectors: { size: 4, distance: 'Cosine' } });
      await client.upsert(c('target'), { points: [{ id: 1000, vector: [1, 1, 1, 1] }] });
      assert.equal(await client.recoverSnapshot(c('target'), { location: server.url, priority: 'snapshot' }), true);
      assert.deepEqual(await allPoints(client, c('target')), await allPoints(client, c('source')));
    } finally {
      await server.close();
    }
  });

  test('recover through an alias restores into the aliased collection', async () => {
    await client.updateCollectionAliases({ actions: [{ create_alias: { collection_name: c('target'), alias_name: c('target-alias') } }] });
    await client.upsert(c('target'), { points: [{ id: 2000, vector: [1, 0, 0, 0] }] });
    assert.equal(await client.recoverSnapshot(c('target-alias'), { location: downloadUrl, api_key: standin.apiKey }), true);
    assert.deepEqual(await client.count(c('target')), { count: 25 });
    assert.deepEqual(await client.collectionExists(c('target-alias')), { exists: true });
  });

  test('recover with a wrong checksum is a 400 and creates nothing', async () => {
    const error = await clientError(client.recoverSnapshot(c('bad-sum'), { location: downloadUrl, checksum: 'a'.repeat(64), api_key: standin.apiKey }));
    assert.equal(error.status, 400);
    assert.match(error.data.status.error, /^Wrong input: Snapshot checksum mismatch/);
    assert.deepEqual(await client.collectionExists(c('bad-sum')), { exists: false });
    const malformed = await raw(standin, 'PUT', `/collections/${c('bad-sum')}/snapshots/recover`, { body: { location: downloadUrl, checksum: 'xyz' } });
    assertErrorEnvelope(malformed, 422, /^Validation error in JSON body: \[checksum/);
  });

  test('recover into an incompatible collection is a 400 that says so', async () => {
    await client.createCollection(c('small'), { vectors: { size: 2, distance: 'Cosine' } });
    const error = await clientError(client.recoverSnapshot(c('small'), { location: downloadUrl, api_key: standin.apiKey }));
    assert.equal(error.status, 400);
    assert.match(error.data.status.error, /^Wrong input: Snapshot is not compatible with existing collection: /);
    assert.deepEqual(await client.count(c('small')), { count: 0 });
  });

  test('file:// locations work inside the snapshots dir only', { skip: requiresStandin('reads snapshotsDir') }, async () => {
    const inside = pathToFileURL(join(standin.snapshotsDir, c('source'), snapshot.name)).href;
    assert.equal(await client.recoverSnapshot(c('from-file'), { location: inside }), true);
    assert.deepEqual(await client.count(c('from-file')), { count: 25 });
    const error = await clientError(client.recoverSnapshot(c('from-etc'), { location: 'file:///etc/passwd' }));
    assert.equal(error.status, 400);
  });

  test('truncated or invalid tar files are rejected with a clear 400', async () => {
    const cases = [
      [bytes.slice(0, 1500), /truncated/],
      [new TextEncoder().encode('not a tar file at all'.repeat(40)), /not a (ustar|tar) archive/],
    ] as const;
    for (const [broken, why] of cases) {
      const server = await serveBytes(broken);
      try {
        const error = await clientError(client.recoverSnapshot(c('broken'), { location: server.url }));
        assert.equal(error.status, 400);
        assert.match(error.data.status.error, /^Wrong input: Invalid snapshot: /);
        if (!standin.external) assert.match(error.data.status.error, why); // the stand-in's own tar reader's words
      } finally {
        await server.close();
      }
    }
    assert.deepEqual(await client.collectionExists(c('broken')), { exists: false });
  });

  test('a location that answers an error status makes recovery fail', async () => {
    const server = await serveBytes(new Uint8Array(0), 500);
    try {
      assert.equal((await clientError(client.recoverSnapshot(c('gone'), { location: server.url }))).status, 400);
    } finally {
      await server.close();
    }
  });

  const upload = (collection: string, data: Uint8Array, query: string) => {
    const form = new FormData();
    form.append('snapshot', new Blob([new Uint8Array(data)]), 'upload.snapshot');
    return raw(standin, 'POST', `/collections/${collection}/snapshots/upload?${query}`, { body: form });
  };

  test('multipart upload into a new collection gives identical points', async () => {
    const response = await upload(c('uploaded'), bytes, `priority=snapshot&checksum=${snapshot.checksum}`);
    assert.equal(response.status, 200, response.text);
    assert.equal(response.json.result, true);
    assert.deepEqual(await allPoints(client, c('uploaded')), await allPoints(client, c('source')));
  });

  test('upload checksum: mismatch 400, malformed 422; invalid tar 400', async () => {
    const mismatch = await upload(c('up-bad'), bytes, `priority=snapshot&checksum=${'0'.repeat(64)}`);
    assertErrorEnvelope(mismatch, 400, /^Wrong input: Snapshot checksum mismatch/);
    const malformed = await upload(c('up-bad'), bytes, 'priority=snapshot&checksum=abc');
    assertErrorEnvelope(malformed, 422, /^Validation error in query parameters: \[checksum/);
    const cutShort = standin.external ? /^Wrong input: Invalid snapshot: / : /^Wrong input: Invalid snapshot: truncated/;
    assertErrorEnvelope(await upload(c('up-bad'), bytes.slice(0, 700), 'priority=snapshot'), 400, cutShort);
    assert.deepEqual(await client.collectionExists(c('up-bad')), { exists: false });
  });

  test('a tar written by hand with the same layout restores too (readSnapshotTar/writeTar round trip)',
    { skip: requiresStandin('the stand-in\'s own snapshot layout') }, async () => {
    const entries = readTar(Buffer.from(bytes));
    const rebuilt = writeTar(entries.map((e) => ({ ...e, data: Buffer.from(e.data) })));
    assert.deepEqual(readSnapshotTar(rebuilt).points, readSnapshotTar(Buffer.from(bytes)).points);
    assert.equal((await upload(c('rebuilt'), rebuilt, 'priority=snapshot')).json?.result, true);
    assert.deepEqual(await client.count(c('rebuilt')), { count: 25 });
  });
});

describe('fault injection', () => {
  let standin: QdrantUnderTest;
  let client: QdrantClient;
  before(async () => {
    standin = await qdrantUnderTest();
    client = newClient(standin);
    await client.createCollection(c('docs'), { vectors: { size: 2, distance: 'Dot' } });
    const points = Array.from({ length: 50 }, (_, i) => ({ id: i, vector: [i, 1], payload: { text: 'x'.repeat(200) } }));
    await client.upsert(c('docs'), { points });
  });
  after(() => standin.stop());

  test('delayMs slows every request', { skip: requiresStandin('fault injection') }, async () => {
    standin.faults.delayMs = 150;
    const started = Date.now();
    await client.getCollections();
    assert.ok(Date.now() - started >= 140, `took ${Date.now() - started} ms`);
    standin.faults.reset();
    assert.equal(standin.faults.delayMs, 0);
  });

  test('failNext 500 answers the proper envelope once, then requests succeed', { skip: requiresStandin('fault injection') }, async () => {
    standin.faults.failNext({ status: 500 });
    assertErrorEnvelope(await raw(standin, 'GET', '/collections'), 500, 'Service internal error: injected fault');
    assert.equal((await raw(standin, 'GET', '/collections')).status, 200);
  });

  test('failNext matches method and path, for `count` requests', { skip: requiresStandin('fault injection') }, async () => {
    standin.faults.failNext({ status: 503, count: 2, method: 'post', pathIncludes: '/points/count' });
    assert.equal((await raw(standin, 'GET', `/collections/${c('docs')}`)).status, 200);
    assert.equal((await clientError(client.count(c('docs')))).status, 503);
    assert.equal((await clientError(client.count(c('docs')))).status, 503);
    assert.deepEqual(await client.count(c('docs')), { count: 50 });
  });

  test('429 carries Retry-After: 1, which the client turns into ResourceExhausted', { skip: requiresStandin('fault injection') }, async () => {
    standin.faults.failNext({ status: 429, count: 2 });
    const response = await raw(standin, 'GET', '/collections');
    assert.equal(response.status, 429);
    assert.equal(response.headers.get('retry-after'), '1');
    assert.match(response.json.status.error, /injected fault/);
    await assert.rejects(client.getCollections(), (error: unknown) => {
      assert.ok(error instanceof QdrantClientResourceExhaustedError);
      assert.equal(error.retry_after, 1);
      return true;
    });
  });

  test('corruptChecksum reports a wrong checksum while the file stays correct', { skip: requiresStandin('fault injection') }, async () => {
    standin.faults.corruptChecksum.add(c('docs'));
    const description = await client.createSnapshot(c('docs'));
    const url = `${standin.url}/collections/${c('docs')}/snapshots/${description?.name}`;
    const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
    assert.match(description?.checksum ?? '', /^[0-9a-f]{64}$/);
    assert.notEqual(sha256(bytes), description?.checksum);
    assert.deepEqual((await client.listSnapshots(c('docs')))[0]?.checksum, description?.checksum);
    const recovered = client.recoverSnapshot(c('copy'), { location: url, checksum: description?.checksum ?? undefined });
    assert.equal((await clientError(recovered)).status, 400);
    standin.faults.reset();
    assert.equal((await client.listSnapshots(c('docs')))[0]?.checksum, sha256(bytes));
    await client.deleteSnapshot(c('docs'), description?.name ?? '');
  });

  test('truncateDownloads cuts the body short, and recovery from it fails', { skip: requiresStandin('fault injection') }, async () => {
    const description = await client.createSnapshot(c('docs'));
    const url = `${standin.url}/collections/${c('docs')}/snapshots/${description?.name}`;
    standin.faults.truncateDownloads.add(c('docs'));
    const response = await fetch(url);
    assert.equal(response.status, 200);
    await assert.rejects(response.arrayBuffer());
    assert.equal((await clientError(client.recoverSnapshot(c('copy'), { location: url }))).status, 400);
    assert.deepEqual(await client.collectionExists(c('copy')), { exists: false });
    standin.faults.reset();
    assert.equal(sha256(new Uint8Array(await (await fetch(url)).arrayBuffer())), description?.checksum);
  });

  test('requests logs method and path (no query string); reset clears it', { skip: requiresStandin('fault injection') }, async () => {
    standin.faults.reset();
    await client.upsert(c('docs'), { points: [{ id: 1, vector: [1, 1] }] });
    await client.getCollection(c('docs'));
    assert.deepEqual(standin.faults.requests, [
      { method: 'PUT', path: `/collections/${c('docs')}/points` },
      { method: 'GET', path: `/collections/${c('docs')}` },
    ]);
    standin.faults.reset();
    assert.deepEqual(standin.faults.requests, []);
  });
});
