// What the Kubernetes shifters share: the request they take, what they answer, and
// kubectl reads that tell "absent" from "failed". Every kubectl runs through the one executor
// (runCommand), argv from src/activities/kubernetes/commands.ts.
import { ApplicationFailure } from '@temporalio/activity';
import { Readable } from 'node:stream';
import type { KubernetesTarget } from '../../config/stacks/deploy.js';
import { kubectlCommands, type KubeTarget } from '../kubernetes/commands.js';
import { kube } from '../kubernetes/state.js';
import { CommandFailed, runCommand, type CommandSpec, type RunOptions } from '../runtime/exec.js';

/**
 * What a Kubernetes shifter is given: the service's Kubernetes deploy target (kubeconfig,
 * context, namespace — the shifter config holds no target fields), the shifter as configured,
 * and, for `set`, the canary's share of traffic in percent (an integer 0–100).
 */
export interface KubernetesShiftRequest<S> {
  target: KubernetesTarget;
  shifter: S;
  weight: number;
  /** The activity's cancellation signal, passed to kubectl. */
  signal?: AbortSignal;
}
export type KubernetesReadRequest<S> = Omit<KubernetesShiftRequest<S>, 'weight'>;

/** `weight` is the canary's share now in effect (after rounding to replicas, for kubernetes-replicas). */
export interface ShiftResult {
  weight: number;
  detail: string;
}
/** `weight` null: the shifter cannot tell one share (e.g. an HTTPRoute's rules disagree); `detail` says why. */
export interface ReadResult {
  weight: number | null;
  detail: string;
}

export interface KubernetesShifterDriver<S> {
  set(request: KubernetesShiftRequest<S>): Promise<ShiftResult>;
  read(request: KubernetesReadRequest<S>): Promise<ReadResult>;
}

export const MANAGED_BY = 'app.kubernetes.io/managed-by';
export const CANARY_OF = 'ragops.io/canary-of';

export const target = (t: KubernetesTarget): KubeTarget => kube(t);
export const where = (t: KubernetesTarget) => `namespace ${t.namespace}${t.context ? ` (context ${t.context})` : ''}`;

/** A weight is a whole percentage 0–100; anything else is bad input, not worth a retry. */
export function checkWeight(weight: number): void {
  if (!Number.isInteger(weight) || weight < 0 || weight > 100) {
    throw ApplicationFailure.nonRetryable(`canary weight ${weight} is not a whole percentage from 0 to 100`, 'InvalidWeight');
  }
}

export const configError = (message: string) => ApplicationFailure.nonRetryable(message, 'ConfigError');

/**
 * Runs kubectl. Refused credentials or permissions will be refused on a retry too: a
 * non-retryable ConfigError saying so; anything else (unreachable, 5xx, conflict) stays retryable.
 */
export async function kubectl(spec: CommandSpec, options: RunOptions = {}): Promise<{ stdout: string; stderr: string }> {
  try {
    return await runCommand(spec, options);
  } catch (error) {
    if (error instanceof CommandFailed && /\((Forbidden|Unauthorized)\)/.test(error.stderrTail)) {
      throw configError(`${error.stderrTail.trim()}: the kubeconfig's user may not do this (${spec.purpose}); grant it get and patch on the object, or fix the credentials`);
    }
    throw error;
  }
}

/** The object (`kind/name`) as JSON, or undefined when it does not exist. */
export async function findObject<T>(t: KubernetesTarget, ref: string, signal?: AbortSignal): Promise<T | undefined> {
  const { stdout } = await kubectl(kubectlCommands.findObject(target(t), ref), { signal });
  return stdout.trim() === '' ? undefined : (JSON.parse(stdout) as T);
}

/** The object, or a non-retryable ConfigError naming it and what to check (it will not appear on a retry). */
export async function requireObject<T>(t: KubernetesTarget, ref: string, hint: string, signal?: AbortSignal): Promise<T> {
  const found = await findObject<T>(t, ref, signal);
  if (found === undefined) throw configError(`${ref} not found in ${where(t)}: ${hint}`);
  return found;
}

export async function mergePatch<T>(t: KubernetesTarget, ref: string, patch: object, signal?: AbortSignal): Promise<T> {
  return JSON.parse((await kubectl(kubectlCommands.mergePatch(target(t), ref, patch), { signal })).stdout) as T;
}

export async function jsonPatch<T>(t: KubernetesTarget, ref: string, ops: object[], signal?: AbortSignal): Promise<T> {
  return JSON.parse((await kubectl(kubectlCommands.jsonPatch(target(t), ref, ops), { signal })).stdout) as T;
}

/** Creates the object; false when it already exists (a retry, or a concurrent attempt, made it). */
export async function createObject(t: KubernetesTarget, ref: string, manifest: object, signal?: AbortSignal): Promise<boolean> {
  try {
    await kubectl(kubectlCommands.createFromStdin(target(t), ref), { stdin: Readable.from([JSON.stringify(manifest)]), signal });
    return true;
  } catch (error) {
    if (error instanceof CommandFailed && /AlreadyExists|already exists/.test(error.stderrTail)) return false;
    throw error;
  }
}

/** A percentage with two decimals at most: 1 of 3 replicas is 33.33. */
export const percent = (part: number, whole: number) => Math.round((part * 10_000) / whole) / 100;
