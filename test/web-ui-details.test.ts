// What the Web UI shows of a run beside its events: the static details (the resolved plan, in
// Markdown, set at start by the ragops client) and current-details status cells that read
// without an emoji font. Pure functions; the browser test (web-ui.test.ts) shows them rendered.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backupInputSchema, canaryInputSchema, deployInputSchema, disasterRecoveryInputSchema, pruneInputSchema, reingestInputSchema, restoreInputSchema, verifyInputSchema } from '../src/config/inputs.js';
import { parseStacksFile } from '../src/config/load.js';
import { canaryDetailsMarkdown } from '../src/core/canaryDetails.js';
import { runStaticDetails, type RunbookRequest } from '../src/core/staticDetails.js';
import { CANARY_STEP_CELL, STEP_STATUS_CELL } from '../src/core/webUi.js';

// Every credential-shaped thing a stacks file can hold: references (whose names are not shown
// either) and URLs with userinfo, tokens in queries and fragments.
const SECRETS = ['PROD_PG_PASSWORD', 'QDRANT_KEY', 'url-user', 'url-pass', 'tok3n', 'frag-secret', 'S3_SECRET', '/run/secrets/redis', 'REGISTRY_PW', 'EMBED_KEY', 'DUMP_TOKEN', 'MINIO_SECRET', 'MINIO_KEY', 'S3_KEY'];

const STACKS = parseStacksFile(
  JSON.stringify({
    stacks: {
      prod: {
        postgres: [{ name: 'app', host: 'db.internal', port: 5433, database: 'appdb', password: { env: 'PROD_PG_PASSWORD' }, physical: { stanza: 'main', pgData: '/var/lib/postgresql/15/main' } }],
        qdrant: { url: 'https://url-user:url-pass@qdrant.internal:6333/?api_key=tok3n#frag-secret', apiKey: { env: 'QDRANT_KEY' }, collections: ['docs', 'faq'] },
        redis: [{ name: 'cache', host: 'redis.internal', password: { file: '/run/secrets/redis' }, rdb: { path: '/var/lib/redis/dump.rdb' } }],
        mirrors: [{ name: 'uploads', bucket: 'rag-uploads', prefix: 'docs/', endpoint: 'http://minio:9000', forcePathStyle: true, accessKeyId: { env: 'MINIO_KEY' }, secretAccessKey: { env: 'MINIO_SECRET' } }],
        execDumps: [{ name: 'app-sqlite', extension: '.sql', run: { host: { argv: ['sqlite3', '/srv/app.db', '.dump'] } }, env: { DUMP_TOKEN: { env: 'DUMP_TOKEN' } } }],
        store: { type: 's3', bucket: 'rag-backups', prefix: 'prod/', endpoint: 'https://url-user:url-pass@s3.internal/?X-Amz-Signature=tok3n', accessKeyId: { env: 'S3_KEY' }, secretAccessKey: { env: 'S3_SECRET' } },
        retention: { keepLast: 7, keepDaily: 14 },
        plans: { 'redis-hourly': { components: ['redis:cache', 'qdrant:docs'], retention: { keepLast: 72 } } },
        deploy: {
          target: { type: 'kubernetes', namespace: 'rag', context: 'prod-cluster' },
          registry: { server: 'registry.internal', username: 'ci', password: { env: 'REGISTRY_PW' } },
          services: { api: { deployment: 'api', container: 'api' } },
        },
        canary: {
          api: {
            traffic: { type: 'kubernetes-replicas', deployment: 'api' },
            maxWeight: 50,
            steps: [{ setWeight: 10 }, { analysis: { metrics: ['error-rate'], interval: '1m', count: 3 } }, { pause: {} }],
            metrics: [{ name: 'error-rate', provider: { type: 'http-json', url: 'http://stats.internal/stats?token=tok3n', path: 'errorRate' }, thresholdRange: { max: 0.05 } }],
          },
        },
        reingest: {
          sources: { docs: { postgres: 'app', query: 'SELECT id, body FROM documents', key: 'id', text: 'body' } },
          embedders: { minilm: { type: 'openai', url: 'http://embed.internal:8080/v1', model: 'all-MiniLM-L6-v2', apiKey: { env: 'EMBED_KEY' } } },
        },
      },
    },
  }),
  'test stacks',
);
const prod = STACKS.stacks.prod!;

const noSecrets = (text: string) => {
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `"${secret}" in the static details:\n${text}`);
};

/** The value cell of the row named `name` of the resolved-plan table. */
function row(text: string, name: string): string {
  const line = text.split('\n').find((l) => l.startsWith(`| ${name} |`));
  assert.ok(line, `no "${name}" row in:\n${text}`);
  return line.slice(`| ${name} | `.length, -2);
}

test('a backup: components with their labels and places, the store, verify and the retention that prunes after; no secret', () => {
  const text = runStaticDetails({ runbook: 'backup', input: backupInputSchema.parse({ stack: 'prod', verify: 'checksum' }) }, { stack: prod });
  assert.match(text, /^\*\*backup\*\* of stack `prod`$/m);
  assert.match(text, /^\| \| resolved plan \|$/m);
  const components = row(text, 'components');
  for (const part of ['postgres `app` (appdb on db.internal:5433)', 'pgBackRest `app`', 'qdrant `docs` at https://qdrant.internal:6333/?redacted', 'qdrant `faq`', 'redis `cache` (redis.internal:6379)', 'bucket mirror `uploads` (`s3://rag-uploads/docs/`)', 'exec dump `app-sqlite` (host command, .sql)']) {
    assert.ok(components.includes(part), `components lack "${part}": ${components}`);
  }
  assert.equal(row(text, 'store'), 'S3 `s3://rag-backups/prod/` at https://s3.internal/?redacted (us-east-1)');
  assert.match(row(text, 'verify after writing'), /^checksum/);
  assert.equal(row(text, 'prune after'), 'keep last 7, 14 daily; never the newest 1 verified');
  noSecrets(text);
});

test('a backup by plan: only the plan’s components, the plan’s retention; prune: false says so', () => {
  const text = runStaticDetails({ runbook: 'backup', input: backupInputSchema.parse({ stack: 'prod', plan: 'redis-hourly' }) }, { stack: prod });
  assert.equal(row(text, 'plan'), '`redis-hourly`');
  const components = row(text, 'components');
  assert.ok(components.includes('redis `cache`') && components.includes('qdrant `docs`'), components);
  assert.ok(!components.includes('postgres') && !components.includes('faq'), components);
  assert.equal(row(text, 'prune after'), 'keep last 72; never the newest 1 verified');
  const picked = runStaticDetails({ runbook: 'backup', input: backupInputSchema.parse({ stack: 'prod', components: ['qdrant'], collections: ['faq'], prune: false }) }, { stack: prod });
  assert.equal(row(picked, 'components'), 'qdrant `faq` at https://qdrant.internal:6333/?redacted');
  assert.equal(row(picked, 'prune after'), 'off (prune: false)');
});

test('every runbook gets a plan table without secrets, also when the client could not read the stacks file', () => {
  const requests: RunbookRequest[] = [
    { runbook: 'verifyBackup', input: verifyInputSchema.parse({ stack: 'prod' }) },
    { runbook: 'restore', input: restoreInputSchema.parse({ stack: 'prod', targetStack: 'staging', postgres: { app: { database: 'app_restored' } }, qdrant: { docs: { collection: 'docs_r' } } }) },
    { runbook: 'pruneBackups', input: pruneInputSchema.parse({ stack: 'prod', dryRun: true }) },
    { runbook: 'deploy', input: deployInputSchema.parse({ stack: 'prod', service: 'api', image: 'registry.internal/api:v2', strategy: 'blueGreen' }) },
    { runbook: 'canary', input: canaryInputSchema.parse({ stack: 'prod', service: 'api', image: 'registry.internal/api:v2' }) },
    { runbook: 'reingest', input: reingestInputSchema.parse({ stack: 'prod', alias: 'docs', source: 'docs', embedder: 'minilm' }) },
    { runbook: 'disasterRecovery', input: disasterRecoveryInputSchema.parse({ stack: 'prod', mode: 'plan' }) },
  ];
  for (const request of requests) {
    for (const view of [{ stack: prod }, { unavailable: 'test stacks: 2 problem(s)' }]) {
      const text = runStaticDetails(request, view);
      assert.match(text, new RegExp(`^\\*\\*${request.runbook}\\*\\* of stack \`prod\`$`, 'm'));
      assert.ok(text.split('\n').filter((l) => /^\| [^|]/.test(l)).length >= 2, text);
      noSecrets(text);
      if ('unavailable' in view) assert.match(text, /stacks file not read here \(test stacks: 2 problem\(s\)\)/);
    }
  }
  const canary = runStaticDetails(requests[4]!, { stack: prod });
  assert.equal(row(canary, 'steps'), '1. set weight 10 %; 2. analysis error-rate every 1m × 3; 3. pause until resume');
  assert.equal(row(canary, 'traffic'), 'kubernetes-replicas shifter, weight at most 50 % before promotion');
  assert.equal(row(canary, 'target'), 'Kubernetes namespace `rag` (context `prod-cluster`)');
  assert.match(row(runStaticDetails(requests[2]!, { stack: prod }), 'mode'), /^dry run/);
  assert.equal(row(runStaticDetails(requests[1]!, { stack: prod }), 'targets'), 'postgres `app` → `app_restored`; qdrant `docs` → `docs_r`');
});

test('status cells carry a word beside the emoji, so they read without an emoji font', () => {
  for (const cell of [...Object.values(STEP_STATUS_CELL), CANARY_STEP_CELL.done, CANARY_STEP_CELL.active]) assert.match(cell, /^\S+ [a-z]+$/u);
  const text = canaryDetailsMarkdown({ steps: [{ setWeight: 10 }, { pause: {} }], stepIndex: 1, roundInStep: 0, weight: 10, paused: null, measurements: [], measurementCount: 0, outcome: 'running' });
  assert.match(text, /^\| ✅ done \| 1 \| set weight 10 % \|$/m);
  assert.match(text, /^\| ▶ active \| 2 \| pause until resume \|$/m);
});
