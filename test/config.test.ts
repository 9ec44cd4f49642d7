import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cronProblem } from '../src/config/cron.js';
import { backupInputSchema } from '../src/config/inputs.js';
import { ConfigError, parseStacksFile, stacksFileJsonSchema } from '../src/config/load.js';
import { resolveSecret } from '../src/config/secrets.js';

const issueExample = `
stacks:
  prod:
    postgres:
      - name: app                      # label used in manifests
        host: 127.0.0.1
        port: 5432
        database: app
        user: postgres
        password: { env: PROD_PG_PASSWORD }   # optional
    qdrant:
      url: http://127.0.0.1:6333
      apiKey: { env: PROD_QDRANT_API_KEY }    # optional
      collections: ["*"]               # or a list of names
    store:
      type: fs                         # or s3
      path: ./backups
`;

function issuesOf(text: string): ConfigError['issues'] {
  try {
    parseStacksFile(text, 'ragops.yaml');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.issues;
  }
  assert.fail('expected the stacks file to be rejected');
}

describe('stacks file', () => {
  test('accepts the shape from the issue, with defaults filled in', () => {
    const stacks = parseStacksFile(issueExample, 'ragops.yaml');
    const prod = stacks.stacks.prod!;
    assert.equal(prod.postgres[0]?.database, 'app');
    assert.deepEqual(prod.postgres[0]?.password, { env: 'PROD_PG_PASSWORD' });
    assert.deepEqual(prod.qdrant?.collections, ['*']);
    assert.deepEqual(prod.store, { type: 'fs', path: './backups' });
  });

  test('accepts JSON and an s3 store', () => {
    const stacks = parseStacksFile(
      JSON.stringify({
        stacks: { s: { store: { type: 's3', bucket: 'rag-backups', prefix: 'ragops/', accessKeyId: { env: 'A' }, secretAccessKey: { file: '/run/secrets/s3' } } } },
      }),
      'ragops.json',
    );
    const store = stacks.stacks.s!.store;
    assert.ok(store.type === 's3');
    assert.equal(store.region, 'us-east-1');
    assert.equal(store.partSizeMiB, 8);
    assert.equal(store.uploadConcurrency, 2);
  });

  test('reports every problem with its path and line', () => {
    const issues = issuesOf(`
stacks:
  prod:
    postgres:
      - name: app
        port: "5432"
        database: "app; drop"
        password: a-literal-value
    qdrant:
      url: ftp://x
      collections: ["../etc"]
    store:
      type: tape
`);
    const paths = issues.map((issue) => issue.path);
    for (const expected of [
      'stacks.prod.postgres[0].port',
      'stacks.prod.postgres[0].database',
      'stacks.prod.postgres[0].password',
      'stacks.prod.qdrant.url',
      'stacks.prod.qdrant.collections[0]',
      'stacks.prod.store.type',
    ]) {
      assert.ok(paths.includes(expected), `missing ${expected} in ${paths.join(', ')}`);
    }
    assert.equal(issues.find((issue) => issue.path === 'stacks.prod.postgres[0].port')?.line, 6);
    assert.equal(issues.find((issue) => issue.path === 'stacks.prod.store.type')?.line, 13);
  });

  test('a literal secret is refused: only references are accepted', () => {
    const issues = issuesOf(`stacks: { p: { store: { type: s3, bucket: bkt, secretAccessKey: "a-literal-value" } } }`);
    assert.equal(issues[0]?.path, 'stacks.p.store.secretAccessKey');
  });

  test('unknown keys, YAML syntax errors and duplicate labels are errors', () => {
    assert.equal(issuesOf(`stacks: { p: { store: { type: fs, path: x }, extra: 1 } }`)[0]?.path, 'stacks.p');
    assert.match(issuesOf(`stacks: [unclosed`)[0]?.message ?? '', /./);
    const duplicate = issuesOf(`stacks: { p: { store: { type: fs, path: x }, postgres: [{name: a, database: d}, {name: a, database: e}] } }`);
    assert.equal(duplicate[0]?.path, 'stacks.p.postgres[1].name');
  });

  test('the JSON Schema describes the file', () => {
    const schema = stacksFileJsonSchema() as { properties: { stacks: unknown } };
    assert.ok(schema.properties.stacks);
    assert.match(JSON.stringify(schema), /"forcePathStyle"/);
  });
});

describe('secret references', () => {
  test('read from the environment or a file; errors name where, never a value', async () => {
    const value = randomBytes(8).toString('hex');
    assert.equal(await resolveSecret({ env: 'X_SECRET' }, { X_SECRET: value }), value);
    await assert.rejects(resolveSecret({ env: 'X_MISSING' }, {}), /environment variable X_MISSING is not set/);
    await assert.rejects(resolveSecret({ file: '/nonexistent/secret' }), /secret file \/nonexistent\/secret cannot be read \(ENOENT\)/);
  });
});

describe('backup input', () => {
  test('names the bad field', () => {
    const bad = backupInputSchema.safeParse({ stack: 'prod', collections: ['$(id)'], components: [] });
    assert.ok(!bad.success);
    const paths = bad.error.issues.map((issue) => issue.path.join('.'));
    assert.deepEqual(paths.sort(), ['collections.0', 'components']);
    assert.ok(!backupInputSchema.safeParse({ stack: 'prod', surprise: true }).success);
    assert.equal(backupInputSchema.parse({ stack: 'prod' }).verify, 'none');
  });
});

describe('cron', () => {
  test('accepts what Temporal accepts', () => {
    for (const cron of ['0 */6 * * *', '15 2 * * mon-fri', '0 0 1 jan,jul *', '@daily', '@every 6h', '*/5 0-23/2 1-31 1-12 0-7']) {
      assert.equal(cronProblem(cron), null, cron);
    }
  });
  test('rejects malformed expressions with the field named', () => {
    assert.match(cronProblem('0 */6 * *')!, /has 4 field/);
    assert.match(cronProblem('0 25 * * *')!, /hour field: 25 is outside 0-23/);
    assert.match(cronProblem('0 0 * * funday')!, /day of week field/);
    assert.match(cronProblem('*/0 * * * *')!, /minute field: step "0"/);
    assert.match(cronProblem('5-1 * * * *')!, /goes backwards/);
  });
});
