import { ApplicationFailure } from '@temporalio/activity';
import type { PostgresTarget, S3StoreConfig } from '../../config/stacks/index.js';
import type { ReingestSource } from '../../config/stacks/reingest.js';
import { ProgressHeartbeat } from '../runtime/heartbeat.js';
import { openPostgresSource, type PostgresPage, type SourceCount } from './postgres.js';
import { openS3Source, type S3Position } from './s3.js';
import type { SourceRow } from './types.js';

export type { SourceRow } from './types.js';
export type { PostgresPage, SourceCount } from './postgres.js';
export type { S3Page, S3Position } from './s3.js';

/** Where a source's reading stands: what a heartbeat records and a retried activity resumes from. */
export type SourceCheckpoint = { kind: 'postgres'; lastKey: string } | { kind: 's3'; position: S3Position };

/** What a source needs besides its own section: the stack's database (PostgreSQL) or S3 store (borrowed settings). */
export interface SourceConnections {
  postgres?: PostgresTarget;
  store?: S3StoreConfig;
}

export interface SourcePageResult {
  rows: SourceRow[];
  /** After the page's last row; unchanged (the `from`) when the page is empty. */
  checkpoint: SourceCheckpoint | undefined;
  done: boolean;
  /** PostgreSQL: the page's snapshot time on the server; the first page's is where a catch-up pass starts. */
  snapshotAt?: string;
}

/** One way to read either kind of source: pages from a checkpoint, and a count for the parity check. */
export interface ReingestSourceReader {
  page(from: SourceCheckpoint | undefined, limit: number): Promise<SourcePageResult>;
  /**
   * Rows changed after `since` (the first page's snapshotAt), keyset-paged like `page`: only for
   * PostgreSQL sources that declare `updatedAt`; undefined otherwise (the report then says the
   * source was not frozen while it was read).
   */
  catchUpPage?: (since: string, from: SourceCheckpoint | undefined, limit: number) => Promise<SourcePageResult>;
  count(): Promise<SourceCount>;
  close(): Promise<void>;
}

/**
 * The pages of a reader from a checkpoint on, reading the next page while the caller works on
 * the current one (at most two pages in memory), so the source's latency hides behind the
 * embedder's. Ends after the page that says `done`. A page read ahead but not consumed (the
 * caller stopped) is dropped; its rows are read again from the last consumed checkpoint.
 */
export async function* prefetchedPages(reader: Pick<ReingestSourceReader, 'page'>, from: SourceCheckpoint | undefined, limit: number): AsyncGenerator<SourcePageResult> {
  let next = reader.page(from, limit);
  for (;;) {
    const page = await next;
    if (page.done) {
      yield page;
      return;
    }
    next = reader.page(page.checkpoint, limit);
    // The read ahead must not surface as an unhandled rejection when the caller stops early.
    next.catch(() => undefined);
    yield page;
  }
}

function wrongCheckpoint(name: string, want: string, from: SourceCheckpoint): Error {
  return ApplicationFailure.nonRetryable(`source "${name}" is a ${want} source; a ${from.kind} checkpoint cannot resume it`, 'InvalidInput');
}

export async function openReingestSource(name: string, source: ReingestSource, connections: SourceConnections): Promise<ReingestSourceReader> {
  if (source.kind === 'postgres') {
    if (!connections.postgres) throw ApplicationFailure.nonRetryable(`source "${name}" reads PostgreSQL "${source.postgres}", and no such database target was given`, 'InvalidInput');
    const reader = await openPostgresSource(connections.postgres, source, name);
    const result = (from: SourceCheckpoint | undefined, page: PostgresPage): SourcePageResult => ({
      rows: page.rows,
      checkpoint: page.lastKey === undefined ? from : { kind: 'postgres', lastKey: page.lastKey },
      done: page.done,
      snapshotAt: page.snapshotAt,
    });
    const lastKeyOf = (from: SourceCheckpoint | undefined) => {
      if (from && from.kind !== 'postgres') throw wrongCheckpoint(name, 'postgres', from);
      return from?.lastKey;
    };
    return {
      page: async (from, limit) => result(from, await reader.page(lastKeyOf(from), limit)),
      ...(source.updatedAt === undefined ? {} : { catchUpPage: async (since: string, from: SourceCheckpoint | undefined, limit: number) => result(from, await reader.catchUpPage(since, lastKeyOf(from), limit)) }),
      count: () => reader.count(),
      close: () => reader.close(),
    };
  }
  const reader = await openS3Source(source, connections.store, name);
  return {
    async page(from, limit) {
      if (from && from.kind !== 's3') throw wrongCheckpoint(name, 's3', from);
      const page = await reader.page(from?.position, limit);
      return { rows: page.rows, checkpoint: page.position === undefined ? from : { kind: 's3', position: page.position }, done: page.done };
    },
    // JSONL keys are not checked for NULLs or duplicates here: a duplicate shows as a count mismatch.
    count: async () => ({ rows: await reader.count(), nullKeys: 0, duplicateKeys: 0 }),
    close: async () => reader.close(),
  };
}

export function createSourceActivities() {
  return {
    /**
     * The source's rows, for the plan and the count parity check; NULL or duplicate keys (which
     * keyset pages would miss) are counted too. Heartbeats while the count runs.
     */
    async countReingestSource(request: { name: string; source: ReingestSource } & SourceConnections): Promise<SourceCount> {
      const progress = new ProgressHeartbeat(`counting source "${request.name}"`);
      const reader = await openReingestSource(request.name, request.source, request);
      try {
        return await progress.during(reader.count());
      } finally {
        await reader.close();
      }
    },
  };
}
