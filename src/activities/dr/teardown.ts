import type { DeployTarget, PostgresTarget, RedisTarget } from '../../config/stacks/index.js';
import { endpointFor } from '../redis/backup.js';
import { RespClient } from '../redis/resp.js';
import type { QdrantEndpoint } from '../qdrant/client.js';
import { openQdrant } from '../qdrant/client.js';
import { collectionExists } from '../qdrant/collections.js';
import { composeCommands } from '../compose/commands.js';
import { projectOf } from '../compose/project.js';
import { kubectlCommands } from '../kubernetes/commands.js';
import { runCommand } from '../runtime/exec.js';
import { quoteIdent, withPostgresAdmin } from '../postgres/session.js';
import { commentOf, restoreMarker } from '../postgres/staging.js';
import type { DeployedService } from './index.js';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { runningPostmaster, stopRecoveredServer } from '../pgbackrest/recoveredServer.js';
import { RESTORED_SERVER_MARK } from '../pgbackrest/serverCommands.js';
import { clusterUserRunner } from '../pgbackrest/session.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';

/** A cluster a drill recovered from pgBackRest into the drill stack's own data directory. */
export interface DrillCluster {
  label: string;
  dataDirectory: string;
  port: number;
  binDir: string;
  osUser?: string;
}

// A DR drill's teardown: only what the drill's own restore created in the drill stack. A
// database is dropped only while it carries the marker of that restore run; anything else is
// kept and said.

export function createDrTeardownActivities() {
  return {
    async dropDrillDatabase(request: { target: PostgresTarget; database: string; backupId: string; artifactName: string; restoreRunTag: string }): Promise<string> {
      return withPostgresAdmin(request.target, undefined, async ({ admin }) => {
        const comment = await commentOf(admin, request.database);
        if (comment === undefined && !(await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [request.database])).rowCount) return `database ${request.database}: already gone`;
        if (comment !== restoreMarker(request.backupId, request.artifactName, request.restoreRunTag)) {
          return `database ${request.database}: KEPT, it does not carry this drill's restore marker (${comment ?? 'no comment'})`;
        }
        await admin.query(`DROP DATABASE ${quoteIdent(admin, request.database)} WITH (FORCE)`);
        return `database ${request.database}: dropped`;
      });
    },

    /**
     * Stops a cluster the drill recovered (pg_ctl stop -m fast as its OS user, then immediate)
     * and removes its data directory: the drill's restore created it, refusing any directory
     * that was not empty. The workflow asks only for clusters its restore reported; a directory
     * without the settings ragops wrote into it on that port is kept and said.
     */
    async removeDrillCluster({ cluster }: { cluster: DrillCluster }): Promise<string> {
      const progress = new ProgressHeartbeat(`remove the drill cluster in ${cluster.dataDirectory}`);
      return progress.during(
        (async () => {
          const where = `cluster ${cluster.label} (${cluster.dataDirectory}, port ${cluster.port})`;
          // Renamed before it is removed, so a retry after a crash half-way finds what is left by that name.
          const removing = `${cluster.dataDirectory}.ragops-drill-removing`;
          if (!(await stat(cluster.dataDirectory).catch(() => undefined))) {
            if (!(await stat(removing).catch(() => undefined))) return `${where}: already gone`;
            await rm(removing, { recursive: true, force: true });
            return `${where}: data directory removed (this drill's restore created it: it restores only into an empty directory)`;
          }
          const settings = await readFile(join(cluster.dataDirectory, 'postgresql.auto.conf'), 'utf8').catch(() => undefined);
          if (settings === undefined || !settings.includes(RESTORED_SERVER_MARK) || !settings.includes(`\nport = ${cluster.port}\n`)) {
            return `${where}: KEPT, its postgresql.auto.conf ${settings === undefined ? 'cannot be read' : 'lacks the settings this drill wrote for port ' + cluster.port}; stop it and remove it by hand if it is the drill's`;
          }
          const stopped = await stopRecoveredServer(await clusterUserRunner(cluster.osUser), { binDir: cluster.binDir, dataDir: cluster.dataDirectory });
          if (await runningPostmaster(cluster.dataDirectory)) return `${where}: KEPT, its server did not stop`;
          await rm(removing, { recursive: true, force: true }); // an earlier drill's, cut short by a crash
          await rename(cluster.dataDirectory, removing);
          await rm(removing, { recursive: true, force: true });
          return `${where}: ${stopped ? 'server stopped (pg_ctl -m fast; immediate only if it would not stop)' : 'no server was running'}; data directory removed (this drill's restore created it: it restores only into an empty directory)`;
        })(),
      );
    },

    async deleteDrillCollection({ qdrant, collection }: { qdrant: QdrantEndpoint; collection: string }): Promise<string> {
      if (!(await collectionExists(qdrant, collection))) return `collection ${collection}: already gone`;
      const { client } = await openQdrant(qdrant);
      await client.deleteCollection(collection);
      return `collection ${collection}: deleted`;
    },

    /** Every key in the drill stack's Redis came from the drill: restoring an RDB over it replaced all it held. */
    async flushDrillRedis({ target }: { target: RedisTarget }): Promise<string> {
      const client = await RespClient.connect(await endpointFor(target), { timeoutMs: 10_000 });
      try {
        await client.command(['FLUSHALL']);
      } finally {
        client.close();
      }
      return `Redis ${target.name}: flushed`;
    },

    async removeDrillService({ target, service }: { target: DeployTarget; service: DeployedService }): Promise<string> {
      if (target.type === 'compose') {
        await runCommand(composeCommands.removeService(await projectOf(target), service.composeService), { timeoutMs: 120_000 });
        return `service ${service.service}: containers removed`;
      }
      await runCommand(kubectlCommands.scale({ kubeconfig: target.kubeconfig, context: target.context, namespace: target.namespace }, service.deployment, 0), { timeoutMs: 120_000 });
      return `service ${service.service}: deployment/${service.deployment} scaled to 0`;
    },
  };
}
