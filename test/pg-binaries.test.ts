// Which pg_dump / pg_restore the worker runs when several client majors are installed side by
// side (Debian's /usr/lib/postgresql/<major>/bin, as in the worker image).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { clientBinDirFor, installedMajorsWith, pgBinDirFor } from '../src/activities/postgres/binaries.js';

test('the oldest installed major at least the server one; none fitting → PATH', () => {
  assert.equal(clientBinDirFor(15, [17, 15, 16]), '/usr/lib/postgresql/15/bin');
  assert.equal(clientBinDirFor(16, [17, 15, 16]), '/usr/lib/postgresql/16/bin');
  assert.equal(clientBinDirFor(14, [17, 16]), '/usr/lib/postgresql/16/bin');
  assert.equal(clientBinDirFor(18, [15, 16, 17]), undefined);
  assert.equal(clientBinDirFor(15, []), undefined);
  assert.equal(clientBinDirFor(9.6, [15], '/opt/pg'), '/opt/pg/15/bin');
});

test('installed majors are the numbered directories whose bin/ holds the tool', async () => {
  const root = await mkdtemp(join(tmpdir(), 'pg-binaries-'));
  try {
    for (const [major, tools] of [['15', ['pg_dump', 'pg_restore']], ['16', ['pg_restore']], ['17', ['pg_dump']], ['common', ['pg_dump']]] as const) {
      await mkdir(join(root, major, 'bin'), { recursive: true });
      for (const tool of tools) {
        await writeFile(join(root, major, 'bin', tool), '#!/bin/sh\n');
        await chmod(join(root, major, 'bin', tool), 0o755);
      }
    }
    assert.deepEqual((await installedMajorsWith('pg_dump', root)).sort(), [15, 17]);
    assert.deepEqual((await installedMajorsWith('pg_restore', root)).sort(), [15, 16]);
    assert.deepEqual(await installedMajorsWith('pg_dump', join(root, 'absent')), []);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test("on this machine: the server's own major from /usr/lib/postgresql, a configured directory wins, an unknown major keeps PATH", async () => {
  const majors = await installedMajorsWith('pg_dump');
  assert.ok(majors.length > 0, 'no PostgreSQL client under /usr/lib/postgresql (Debian: postgresql-client-15)');
  const major = Math.min(...majors);
  const dir = await pgBinDirFor('pg_dump', major, undefined);
  assert.equal(dir, `/usr/lib/postgresql/${major}/bin`);
  const { stdout } = await promisify(execFile)(`${dir}/pg_dump`, ['--version']);
  assert.match(stdout, new RegExp(`^pg_dump \\(PostgreSQL\\) ${major}\\.`));
  assert.equal(await pgBinDirFor('pg_restore', major, '/opt/custom/bin'), '/opt/custom/bin');
  assert.equal(await pgBinDirFor('pg_restore', undefined, undefined), undefined);
  assert.equal(await pgBinDirFor('pg_dump', Math.max(...majors) + 1, undefined), undefined);
});
