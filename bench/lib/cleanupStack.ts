// Things to stop or delete, undone last-in first-out: at the end of a benchmark, on error,
// and on Ctrl-C.
export class CleanupStack {
  private readonly tasks: Array<{ label: string; run: () => Promise<unknown> }> = [];

  add(label: string, run: () => Promise<unknown>): void {
    this.tasks.push({ label, run });
  }

  async runAll(): Promise<void> {
    for (let task = this.tasks.pop(); task; task = this.tasks.pop()) {
      try {
        await task.run();
      } catch (error) {
        console.error(`cleanup: ${task.label} failed: ${(error as Error).message}`);
      }
    }
  }

  /**
   * Runs the cleanups on SIGINT/SIGTERM, then exits; returns a function that removes the handlers.
   * A Ctrl-C reaches this process twice (from the terminal and relayed by tsx): later signals
   * are ignored while the cleanups run.
   */
  onSignals(): () => void {
    let stopping = false;
    const handler = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      console.error(`\n${signal}: stopping what the benchmark started…`);
      void this.runAll().finally(() => process.exit(130));
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
    return () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    };
  }
}
