// Preloaded into `ragops worker` child processes (NODE_OPTIONS=--import) by test/scaling.test.ts:
// caps the worker's concurrent activity executions at RAGOPS_MAX_CONCURRENT_ACTIVITIES, a
// stand-in until src/worker.ts reads that variable itself. The worker's own options win, so
// once it does, this changes nothing. Plain JavaScript: NODE_OPTIONS imports run before tsx.
import { Worker } from '@temporalio/worker';

const cap = Number(process.env.RAGOPS_MAX_CONCURRENT_ACTIVITIES);
if (Number.isInteger(cap) && cap > 0) {
  const create = Worker.create.bind(Worker);
  Worker.create = (options) => create({ ...options, maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions ?? cap });
}
