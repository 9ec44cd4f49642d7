import type { HttpCheck } from '../../config/stacks/deploy.js';
import type { StepTracker } from '../lib/steps.js';
import { describeChecks, NOT_VERIFIED, runChecks, type RollbackResult } from './report.js';
import type { RolloutResult } from './targets.js';

/** A step that ran but did not do what it must (a rollout that never became ready, a failed check). */
export class StepFailed extends Error {
  constructor(
    readonly step: string,
    readonly evidence: string,
  ) {
    super(`${step} failed`);
  }
}

interface Compensation {
  title: string;
  run: () => Promise<RolloutResult | void>;
}

/**
 * The undo list of a deploy: each step that changes what serves traffic registers how to put
 * it back before it acts. `compensate` runs them newest first — every one of them, whatever
 * the others did — then checks what serves traffic again.
 */
export class Saga {
  private readonly compensations: Compensation[] = [];

  constructor(private readonly steps: StepTracker) {}

  onFailure(title: string, run: Compensation['run']): void {
    this.compensations.push({ title, run });
  }

  get empty(): boolean {
    return this.compensations.length === 0;
  }

  async compensate(verifyWith: HttpCheck[]): Promise<RollbackResult> {
    const evidence: string[] = [];
    let ok = true;
    for (const { title, run } of this.compensations.splice(0).reverse()) {
      try {
        const result = await this.steps.step('rollback', title, run, (r) => (r ? (r.ok ? 'done' : 'FAILED') : 'done'));
        if (result && !result.ok) ok = false;
        evidence.push(`${title}: ${result ? (result.ok ? 'done' : `FAILED — ${result.evidence}`) : 'done'}`);
      } catch (error) {
        ok = false;
        evidence.push(`${title}: FAILED — ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (!ok) return { ok, verified: false, evidence: evidence.join('\n'), checks: [] };
    if (verifyWith.length === 0) return { ok, verified: false, evidence: [...evidence, NOT_VERIFIED].join('\n'), checks: [] };
    const checks = await this.steps
      .step('rollback', 'verify the rollback', () => runChecks('verify the rollback', verifyWith), (c) => (c.every((check) => check.passed) ? 'healthy' : 'FAILED'))
      .catch((error: unknown) => {
        evidence.push(`verify the rollback: FAILED — ${error instanceof Error ? error.message : String(error)}`);
        return undefined;
      });
    const verified = checks !== undefined && checks.every((check) => check.passed);
    if (checks) evidence.push(describeChecks(checks));
    return { ok, verified, evidence: evidence.join('\n'), checks: checks ?? [] };
  }
}
