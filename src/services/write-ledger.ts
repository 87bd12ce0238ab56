/**
 * The revisions this worker itself wrote, per key, and the writes still in flight (lease writes
 * and heartbeats).
 *
 * A service that is stopped mid-write cannot report the write's result to the machine (XState
 * drops events from stopped actors), yet the write may still land. Teardown asks the ledger to
 * wait for such writes (bounded) and then releases keys at the latest revision we wrote, so a
 * stop during a claim, renewal or leader create leaves nothing behind and never deletes a key
 * that someone else wrote since, and a heartbeat in flight cannot land after its delete (which
 * would make a graceful leave look like a crash).
 */

export class WriteLedger {
  readonly #latest = new Map<string, number>();
  readonly #inflight = new Set<Promise<unknown>>();

  /** Records the revision `write` produces for `key`; returns `write` unchanged. */
  track(key: string, write: Promise<number>): Promise<number> {
    const recorded = write.then((revision) => {
      if (revision > (this.#latest.get(key) ?? 0)) this.#latest.set(key, revision);
      return revision;
    });
    this.settling(recorded);
    return recorded;
  }

  /** Registers a clean-up operation (e.g. giving back an ID after an aborted claim) that drain() waits for. */
  settling(operation: Promise<unknown>): void {
    const settled = operation.then(
      () => undefined,
      () => undefined,
    );
    this.#inflight.add(settled);
    void settled.then(() => this.#inflight.delete(settled));
  }

  /** The highest revision we wrote to `key`, if any. */
  latest(key: string): number | undefined {
    return this.#latest.get(key);
  }

  /** Forget `key` (after it was deleted or is known to be someone else's). */
  forget(key: string): void {
    this.#latest.delete(key);
  }

  /** Number of writes still in flight. */
  get pending(): number {
    return this.#inflight.size;
  }

  /**
   * Resolves when no write is in flight any more (including clean-ups that settling writes start
   * in turn), or after `timeoutMs`. Never rejects. True when everything settled in time.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.#inflight.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        timedOut = true;
        resolve();
      }, timeoutMs);
    });
    while (this.#inflight.size > 0 && !timedOut) {
      await Promise.race([Promise.all([...this.#inflight]), deadline]);
      // Let continuations of the settled writes register their own clean-ups first.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    clearTimeout(timer);
    return this.#inflight.size === 0;
  }
}
