// A workflow interceptor for the time-skipping test server, which implements no search
// attributes (its operator service is unimplemented): the runbooks' upserts are dropped
// before they reach it. Everything else about the workflow runs as written.
import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';

export const interceptors: WorkflowInterceptorsFactory = () => ({
  internals: [
    {
      concludeActivation(input, next) {
        return next({ ...input, commands: input.commands.filter((command) => !command.upsertWorkflowSearchAttributes) });
      },
    },
  ],
});
