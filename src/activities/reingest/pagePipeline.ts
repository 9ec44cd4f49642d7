// Keeps the embedder busy across page boundaries: the next page's batches queue for an
// embedding slot while the current page's last batches are still being embedded or written,
// instead of every page waiting for its slowest batch before the next one starts. Pages are
// still committed strictly in order, so a checkpoint never passes a page that is not written.

/** At most `limit` holders at once, served first come first served (batches keep page order). */
export class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(limit: number) {
    this.free = limit;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

export interface PipelineOptions<Page, Written> {
  pages: AsyncIterable<Page>;
  /** Starts all of a page's work; settles once the whole page is written. */
  start(page: Page, signal: AbortSignal): Promise<Written>;
  /** Called in page order once a page and all before it are written. */
  commit(page: Page, written: Written): void;
  /** Whether to read no page after this one (the source is done, or the call's page budget is spent). */
  isLast(page: Page, pagesStarted: number): boolean;
  /** Aborts the whole pipeline (the activity's cancellation). */
  signal: AbortSignal;
}

/**
 * Runs pages through `start` with at most one page started beyond the oldest uncommitted one,
 * and commits them in order. The first failure aborts the pages after it and is thrown.
 */
export async function runPagePipeline<Page, Written>(options: PipelineOptions<Page, Written>): Promise<void> {
  const abort = new AbortController();
  const stopOnAbort = () => abort.abort(options.signal.reason);
  options.signal.addEventListener('abort', stopOnAbort, { once: true });
  const pending: Array<{ page: Page; written: Promise<Written> }> = [];
  const commitOldest = async (): Promise<void> => {
    const { page, written } = pending.shift()!;
    options.commit(page, await written);
  };
  try {
    let started = 0;
    for await (const page of options.pages) {
      options.signal.throwIfAborted();
      const written = options.start(page, abort.signal);
      // Surfaced when this page's turn to commit comes; until then it must not be unhandled.
      written.catch(() => undefined);
      pending.push({ page, written });
      started++;
      if (options.isLast(page, started)) break;
      if (pending.length > 1) await commitOldest();
    }
    while (pending.length > 0) await commitOldest();
  } catch (error) {
    abort.abort(error);
    throw error;
  } finally {
    options.signal.removeEventListener('abort', stopOnAbort);
    // Pages started after a failure or a stop are aborted and their results dropped.
    if (pending.length > 0) abort.abort(new Error('the page pipeline stopped'));
  }
}
