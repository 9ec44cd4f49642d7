// A worker process serving only the compose activities and the test workflow above, so the
// migration test can SIGKILL it mid-migration. Usage: node --import tsx worker.ts <address> <taskQueue>
import { fileURLToPath } from 'node:url';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createComposeActivities } from '../../../src/activities/compose/index.js';
import { cancellationInterceptor } from '../../../src/activities/runtime/cancellation.js';

const [address, taskQueue] = process.argv.slice(2);
if (!address || !taskQueue) throw new Error('usage: worker.ts <address> <taskQueue>');
Runtime.install({ logger: new DefaultLogger('WARN') });
const connection = await NativeConnection.connect({ address });
const worker = await Worker.create({
  connection,
  taskQueue,
  workflowsPath: fileURLToPath(new URL('./workflow.ts', import.meta.url)),
  activities: createComposeActivities(),
  interceptors: { activity: [cancellationInterceptor] },
});
console.log('worker ready');
await worker.run();
await connection.close();
