import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { importGraph, importsOf, layeringViolations, nodeApisInWorkflowBundle } from './support/architecture.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

test('src/ keeps the layering of DESIGN.md §4', () => {
  const edges = importGraph(ROOT);
  assert.ok(edges.length > 200, `only ${edges.length} imports found: the parser is not reading the tree`);
  assert.deepEqual(layeringViolations(edges), []);
  assert.deepEqual(nodeApisInWorkflowBundle(edges), []);
});

test('the layering check catches each kind of violation', () => {
  const edges = [
    ...importsOf('src/activities/postgres/dump.ts', "import { backup } from '../../workflows/backup.js';"),
    ...importsOf('src/workflows/backup.ts', "import { createActivities } from '../activities/index.js';\nimport type { Activities } from '../activities/index.js';"),
    ...importsOf('src/core/format.ts', "import { readFile } from 'node:fs/promises';"),
    ...importsOf('src/config/stacks/index.ts', "export { openStore } from '../../activities/store/open.js';"),
  ];
  const problems = layeringViolations(edges);
  assert.equal(problems.length, 4, problems.join('\n'));
  assert.match(problems[0]!, /activities never import workflows/);
  assert.match(problems[1]!, /workflows import activities as types only/);
  assert.match(problems[2]!, /core is pure/);
  assert.match(problems[3]!, /config depends on nothing but core/);

  const bundle = [
    ...importsOf('src/workflows/index.ts', "export { backup } from './backup.js';"),
    ...importsOf('src/workflows/backup.ts', "import { loadStacksFile } from '../config/load.js';"),
    ...importsOf('src/config/load.ts', "import { readFile } from 'node:fs/promises';"),
  ];
  assert.deepEqual(nodeApisInWorkflowBundle(bundle), ['src/workflows/index.ts → src/workflows/backup.ts → src/config/load.ts imports node:fs/promises']);
});
