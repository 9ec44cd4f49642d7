// The ingest pipeline's ordering rules, with timed fake work: the embedder's slots stay busy
// across page boundaries, pages commit in order, a failure stops the pages after it.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { runPagePipeline, Slots } from '../src/activities/reingest/pagePipeline.js';

async function* pagesOf(count: number): AsyncGenerator<number> {
  for (let page = 1; page <= count; page++) yield page;
}

describe('the page pipeline', () => {
  test('the next page starts embedding while the last batch of this one is still running, and pages commit in order', async () => {
    const slots = new Slots(2);
    const events: string[] = [];
    let inFlight = 0;
    let mostInFlight = 0;
    const committed: number[] = [];
    await runPagePipeline<number, number>({
      pages: pagesOf(4),
      signal: new AbortController().signal,
      // Three batches per page with two slots: the third runs alone unless the next page fills the other slot.
      start: async (page) => {
        const batches = [30, 10, 40].map((ms, i) =>
          slots.run(async () => {
            inFlight++;
            mostInFlight = Math.max(mostInFlight, inFlight);
            events.push(`start ${page}.${i}`);
            await sleep(ms * (page === 1 ? 2 : 1));
            inFlight--;
            events.push(`end ${page}.${i}`);
          }),
        );
        await Promise.all(batches);
        return page * 10;
      },
      isLast: (page) => page === 4,
      commit: (page, written) => {
        assert.equal(written, page * 10);
        committed.push(page);
      },
    });
    assert.deepEqual(committed, [1, 2, 3, 4]);
    assert.equal(mostInFlight, 2, 'never more than the slots');
    assert.ok(events.indexOf('start 2.0') < events.indexOf('end 1.2'), `page 2 began before page 1 finished: ${events.join(', ')}`);
  });

  test('a failing page is thrown, is never committed, and the pages after it are aborted', async () => {
    const committed: number[] = [];
    const abortedPages: number[] = [];
    await assert.rejects(
      runPagePipeline<number, void>({
        pages: pagesOf(10),
        signal: new AbortController().signal,
        start: async (page, signal) => {
          if (page === 2) throw new Error('embedder refused page 2');
          await sleep(20);
          if (signal.aborted) abortedPages.push(page);
        },
        isLast: () => false,
        commit: (page) => committed.push(page),
      }),
      /embedder refused page 2/,
    );
    await sleep(50);
    assert.deepEqual(committed, [1]);
    assert.deepEqual(abortedPages, [3], 'one page beyond the failing one was started, and it saw the abort');
  });

  test('the page budget stops reading: no page is started after the last one allowed', async () => {
    const started: number[] = [];
    await runPagePipeline<number, void>({
      pages: pagesOf(10),
      signal: new AbortController().signal,
      start: async (page) => {
        started.push(page);
      },
      isLast: (_page, pagesStarted) => pagesStarted >= 3,
      commit: () => undefined,
    });
    assert.deepEqual(started, [1, 2, 3]);
  });

  test('cancellation of the activity aborts the work in flight', async () => {
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(new Error('activity cancelled')), 20);
    await assert.rejects(
      runPagePipeline<number, void>({
        pages: pagesOf(100),
        signal: cancel.signal,
        start: async (_page, signal) => {
          await sleep(10, undefined, { signal });
        },
        isLast: () => false,
        commit: () => undefined,
      }),
    );
  });
});
