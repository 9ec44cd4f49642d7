// Fault injection for tests that need the API server to misbehave: the next N requests that
// match (method, path) answer an error Status instead of being handled (like the Qdrant
// stand-in's faults.ts). kubectl prints such a Status as `Error from server (<reason>): …`.
import { KubeError } from './status.js';

export interface FailNextOptions {
  /** HTTP error status to answer (400-599), as a Kubernetes `Status` with the matching reason. */
  status: number;
  /** How many matching requests fail (default 1; `Infinity` for every one until `clear()`). */
  count?: number;
  /** Only requests with this method (any case): GET, POST, PUT, PATCH, DELETE. */
  method?: string;
  /** Only requests whose path (with query string) contains this, e.g. `/deployments/api`. */
  pathIncludes?: string;
}

export interface KubeFaults {
  /** The next `count` matching requests answer `status` (and change nothing). Rules are tried in order. */
  failNext(opts: FailNextOptions): void;
  /** Drops every rule. */
  clear(): void;
}

interface Rule {
  status: number;
  remaining: number;
  method?: string;
  pathIncludes?: string;
}

/** The reason the API server gives with each status. */
const REASONS: Record<number, string> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed', 409: 'Conflict',
  410: 'Expired', 422: 'Invalid', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout',
};

export class Faults implements KubeFaults {
  private rules: Rule[] = [];

  failNext(opts: FailNextOptions): void {
    if (!Number.isInteger(opts.status) || opts.status < 400 || opts.status > 599) {
      throw new RangeError(`failNext: status must be an HTTP error status (400-599), got ${opts.status}`);
    }
    const count = opts.count ?? 1;
    if (count !== Infinity && (!Number.isInteger(count) || count < 1)) throw new RangeError(`failNext: count must be a positive integer or Infinity, got ${count}`);
    this.rules.push({ status: opts.status, remaining: count, method: opts.method?.toUpperCase(), pathIncludes: opts.pathIncludes });
  }

  clear(): void {
    this.rules = [];
  }

  /** The injected error for this request, if a rule matches (using up one of its count). */
  take(method: string, pathWithQuery: string): KubeError | undefined {
    const rule = this.rules.find((r) => (!r.method || r.method === method.toUpperCase()) && (!r.pathIncludes || pathWithQuery.includes(r.pathIncludes)));
    if (!rule) return undefined;
    rule.remaining -= 1;
    if (rule.remaining <= 0) this.rules.splice(this.rules.indexOf(rule), 1);
    const reason = REASONS[rule.status] ?? (rule.status >= 500 ? 'InternalError' : 'BadRequest');
    return new KubeError(rule.status, reason, `injected fault: ${method} ${pathWithQuery} answered ${rule.status} by the stand-in`);
  }
}
