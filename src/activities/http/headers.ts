import { ApplicationFailure } from '@temporalio/common';
import { HEADER_VALUE, type HttpCheck } from '../../config/stacks/deploy.js';
import { describeSecretRef, resolveSecret, type SecretRef } from '../../config/secrets.js';
import { redactUrls } from '../../core/redact.js';

/** A check's request headers, ready to send, and what must never be written down. */
export interface ResolvedHeaders {
  headers: Record<string, string>;
  /** Names only: what the evidence may say about the headers. */
  names: string[];
  /** Resolved secret values, scrubbed from anything the check reports (an echoing server). */
  secrets: string[];
}

/** Parts of a secret worth scrubbing on their own: the token of `Bearer <token>` is echoed without its scheme. */
const MIN_SECRET_PART = 8;

/**
 * Resolves a check's header values here, inside the activity: the workflow carried only the
 * references. A reference that cannot be resolved is a configuration problem no retry fixes,
 * so it fails at once (ConfigError, non-retryable), naming the header and the reference —
 * never a value.
 */
export async function resolveHeaders(check: HttpCheck, what: string): Promise<ResolvedHeaders> {
  const resolved: ResolvedHeaders = { headers: {}, names: [], secrets: [] };
  for (const [name, value] of Object.entries(check.headers ?? {})) {
    resolved.names.push(name);
    if (typeof value === 'string') {
      resolved.headers[name] = value;
      continue;
    }
    const secret = await resolveSecretHeader(check, what, name, value);
    resolved.headers[name] = secret;
    resolved.secrets.push(secret, ...secret.split(/\s+/).filter((part) => part.length >= MIN_SECRET_PART && part !== secret));
  }
  return resolved;
}

async function resolveSecretHeader(check: HttpCheck, what: string, name: string, ref: SecretRef): Promise<string> {
  const fail = (reason: string): never => {
    throw ApplicationFailure.nonRetryable(`${what}: ${redactUrls(check.url)}: header ${name} cannot be sent: ${reason}`, 'ConfigError');
  };
  let value: string;
  try {
    value = await resolveSecret(ref);
  } catch (error) {
    // resolveSecret's messages name where it looked ("environment variable X is not set ..."), never a value.
    return fail((error as Error).message);
  }
  if (value === '') return fail(`${describeSecretRef(ref)} is empty`);
  // Checked here, not by fetch: its "invalid header value" error quotes the value.
  if (!HEADER_VALUE.test(value)) return fail(`the value of ${describeSecretRef(ref)} is not a valid header value (a line break or control character)`);
  return value;
}
