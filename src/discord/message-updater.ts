/**
 * Serializes the updates of each job's message: progress edits coalesce (only the newest waiting one
 * runs), and once the final update is queued no progress edit can land after it and undo the result.
 */
export class MessageUpdater {
  private readonly chains = new Map<
    string,
    { tail: Promise<void>; pending: (() => Promise<void>) | null; final: boolean }
  >();

  constructor(private readonly onError: (jobId: string, error: unknown) => void) {}

  progress(jobId: string, update: () => Promise<void>): void {
    const chain = this.chain(jobId);
    if (chain.final) return;
    const alreadyWaiting = chain.pending !== null;
    chain.pending = update;
    if (alreadyWaiting) return;
    chain.tail = chain.tail.then(async () => {
      const next = chain.pending;
      chain.pending = null;
      if (next && !chain.final) await next().catch((error) => this.onError(jobId, error));
    });
  }

  /** Runs after any edit in flight; progress queued before it is dropped. Rejects with the update's error. */
  final(jobId: string, update: () => Promise<void>): Promise<void> {
    const chain = this.chain(jobId);
    chain.final = true;
    chain.pending = null;
    const run = chain.tail.then(update);
    chain.tail = run.catch(() => {});
    return run.finally(() => {
      // Keep the map small: after a while nothing more can arrive for a finished job.
      setTimeout(() => this.chains.delete(jobId), 60_000).unref();
    });
  }

  private chain(jobId: string) {
    let chain = this.chains.get(jobId);
    if (!chain) {
      chain = { tail: Promise.resolve(), pending: null, final: false };
      this.chains.set(jobId, chain);
    }
    return chain;
  }
}
