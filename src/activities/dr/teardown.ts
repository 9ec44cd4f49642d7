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
