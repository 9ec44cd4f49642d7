import { allHandlersFinished, condition, defineQuery, defineUpdate, setHandler } from '@temporalio/workflow';
import { grant, leaseRequestProblem, release, type LeaseAnswer, type LeaseHolder, type LeaseRequest } from '../core/leases.js';

export const acquireUpdate = defineUpdate<LeaseAnswer, [LeaseRequest]>('acquire');
export const releaseUpdate = defineUpdate<void, [{ workflowId: string }]>('release');
export const holdersQuery = defineQuery<LeaseHolder[]>('holders');

/**
 * One target's lease (workflow id `ragops-lease-<target>`): the runs holding it, shared or
 * exclusive. Started by the first `acquire` (update-with-start) and done once nobody holds
 * it, so an idle target leaves nothing running. Its state lives in Temporal, so it outlives
 * any worker; a holder that closed without releasing is evicted by the next acquirer.
 */
export async function lease(): Promise<{ lastHolders: LeaseHolder[] }> {
  let holders: LeaseHolder[] = [];
  let everHeld: LeaseHolder[] = [];
  let asked = false;
  setHandler(
    acquireUpdate,
    (request) => {
      asked = true;
      const decision = grant(holders, request, new Date().toISOString());
      holders = decision.holders;
      if (!decision.granted) return { granted: false, blockers: decision.blockers };
      everHeld = holders;
      return { granted: true };
    },
    {
      validator: (request) => {
        const problem = leaseRequestProblem(request);
        if (problem) throw new Error(`invalid lease request: ${problem}`);
      },
    },
  );
  setHandler(releaseUpdate, ({ workflowId }) => {
    holders = release(holders, workflowId);
  });
  setHandler(holdersQuery, () => holders);
  // The starting acquire arrives with the start; never finish before it was answered.
  await condition(() => asked, '1 minute');
  await condition(() => holders.length === 0 && allHandlersFinished());
  return { lastHolders: everHeld };
}
