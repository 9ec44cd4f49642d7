import { QdrantError } from './protocol.js';

export interface FailNextOptions {
  /** HTTP status to answer, with Qdrant's error envelope (429 adds `Retry-After: 1`). */
  status: number;
  /** How many matching requests fail (default 1). */
  count?: number;
  /** Only requests whose path (with query string) contains this. */
  pathIncludes?: string;
  /** Only requests with this method (any case). */
  method?: string;
}

/** Fault injection for tests that need Qdrant to misbehave. */
export interface QdrantFaults {
  /** Milliseconds added to every request before it is handled. */
  delayMs: number;
  /** The next `count` matching requests answer `status` instead of being handled. */
  failNext(opts: FailNextOptions): void;
  /** Collection names whose snapshot descriptions report a wrong checksum (the file stays correct). */
  corruptChecksum: Set<string>;
  /** Collection names whose snapshot downloads drop the connection halfway through the body. */
  truncateDownloads: Set<string>;
  /**
   * The HTTP status every recovery from an http(s) location sees from its download (e.g. 403,
   * S3's answer to an expired or mis-signed presigned URL); Qdrant then fails the recovery
   * with the whole URL in its error, as 1.19 does.
   */
  locationDownloadStatus: number | undefined;
  /**
   * Runs while a snapshot of a collection is being created, before its points are read: what it
   * writes lands in the snapshot, as writes that arrive during a real Qdrant's snapshot do.
   */
  duringSnapshot: ((collection: string) => Promise<void>) | undefined;
  /** Clears every fault and the request log. */
  reset(): void;
  /** Every request seen, in order: method and path without the query string. */
  requests: { method: string; path: string }[];
}

interface FailureRule {
  status: number;
  remaining: number;
  pathIncludes?: string;
  method?: string;
}

export class Faults implements QdrantFaults {
  delayMs = 0;
  readonly corruptChecksum = new Set<string>();
  readonly truncateDownloads = new Set<string>();
  locationDownloadStatus: number | undefined = undefined;
  duringSnapshot: ((collection: string) => Promise<void>) | undefined = undefined;
  readonly requests: { method: string; path: string }[] = [];
  private rules: FailureRule[] = [];

  failNext(opts: FailNextOptions): void {
    if (!Number.isInteger(opts.status) || opts.status < 400 || opts.status > 599) {
      throw new RangeError(`failNext: status must be an HTTP error status (400-599), got ${opts.status}`);
    }
    const count = opts.count ?? 1;
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`failNext: count must be a positive integer, got ${count}`);
    this.rules.push({ status: opts.status, remaining: count, pathIncludes: opts.pathIncludes, method: opts.method?.toUpperCase() });
  }

  reset(): void {
    this.delayMs = 0;
    this.corruptChecksum.clear();
    this.truncateDownloads.clear();
    this.locationDownloadStatus = undefined;
    this.duringSnapshot = undefined;
    this.requests.length = 0;
    this.rules = [];
  }

  /** The injected error for this request, if a rule matches (using up one of its count). */
  take(method: string, pathWithQuery: string): QdrantError | undefined {
    const rule = this.rules.find(
      (r) => (!r.method || r.method === method.toUpperCase()) && (!r.pathIncludes || pathWithQuery.includes(r.pathIncludes)),
    );
    if (!rule) return undefined;
    rule.remaining -= 1;
    if (rule.remaining === 0) this.rules.splice(this.rules.indexOf(rule), 1);
    return injectedError(rule.status);
  }
}

/** The error Qdrant would answer with that status, its message marked as injected. */
export function injectedError(status: number): QdrantError {
  switch (status) {
    case 400: return new QdrantError(400, 'Bad request: injected fault');
    case 404: return new QdrantError(404, 'Not found: injected fault');
    case 429: return new QdrantError(429, 'Rate limiting exceeded: injected fault', { 'retry-after': '1' });
    case 503: return new QdrantError(503, 'Service unavailable: injected fault');
    case 507: return new QdrantError(507, 'Service internal error: No space left on device (injected fault)');
    default: return new QdrantError(status, 'Service internal error: injected fault');
  }
}
