import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from './collections.js';
import { Faults, type QdrantFaults } from './faults.js';
import type { Standin } from './routes.js';
import { listen } from './server.js';
import { SnapshotStorage } from './snapshots.js';

export type { FailNextOptions, QdrantFaults } from './faults.js';
export { readSnapshotTar, SnapshotFormatError, type SnapshotContents, type SnapshotPoint } from './snapshot-format.js';
export { sha256Hex } from './snapshots.js';
export { readTar, TarFormatError, writeTar, type TarEntry } from './tar.js';

export interface QdrantStandin {
  /** http://127.0.0.1:<free port> */
  url: string;
  /** The full-access key, when started with one. */
  apiKey?: string;
  faults: QdrantFaults;
  /** Where snapshot files live: `<snapshotsDir>/<collection>/<name>.snapshot`. */
  snapshotsDir: string;
  /** Closes the server and removes its temp dir. */
  stop(): Promise<void>;
}

export interface QdrantStandinOptions {
  /** Full-access key; with it (or readOnlyApiKey) set, requests need `api-key` or `Authorization: Bearer`. */
  apiKey?: string;
  /** A key that may read but gets 403 on writes. */
  readOnlyApiKey?: string;
  /** Reported by GET / and written into snapshots (default 1.19.0). */
  version?: string;
}

/** A Qdrant 1.19 REST stand-in on a free loopback port, with its own temp snapshots dir. */
export async function startQdrantStandin(opts: QdrantStandinOptions = {}): Promise<QdrantStandin> {
  const snapshotsDir = await mkdtemp(join(tmpdir(), 'qdrant-standin-'));
  try {
    return await serve(snapshotsDir, opts);
  } catch (error) {
    await rm(snapshotsDir, { recursive: true, force: true });
    throw error;
  }
}

async function serve(snapshotsDir: string, opts: QdrantStandinOptions): Promise<QdrantStandin> {
  const version = opts.version ?? '1.19.0';
  const faults = new Faults();
  // Qdrant peer ids are random u64s; 16 digits looks like the ones in real snapshot names.
  const peerId = String(1e15 + randomBytes(6).readUIntBE(0, 6));
  const standin: Standin = {
    store: new Store(),
    snapshots: new SnapshotStorage(snapshotsDir, peerId, version, faults),
    faults,
    keys: { apiKey: opts.apiKey, readOnlyApiKey: opts.readOnlyApiKey },
    version,
  };
  const { server, url } = await listen(standin);
  let stopped: Promise<void> | undefined;
  return {
    url,
    apiKey: opts.apiKey,
    faults,
    snapshotsDir,
    stop: () =>
      (stopped ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
        await rm(snapshotsDir, { recursive: true, force: true });
      })()),
  };
}
