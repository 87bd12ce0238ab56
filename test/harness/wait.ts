// Waiting helpers for tests: poll a condition against a deadline (never sleep-then-check),
// countdown latch, event promise and deferred. Every wait names what it waited for and, on
// timeout, what it saw last. (Modelled on nats.js nst `Lock`/`deferred`, pino `watchForWrite`.)
import type { EventEmitter } from 'node:events';
import { inspect } from 'node:util';

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T | PromiseLike<T>): void;
  reject(reason?: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T | PromiseLike<T>) => void;
  let reject!: (reason?: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export interface WaitForOptions {
  /** Deadline for the whole wait. */
  timeoutMs: number;
  /** Pause between probes (default 50 ms). */
  intervalMs?: number;
  /** What is being waited for, used in the timeout error ("kv value after restart"). */
  what: string;
}

function show(value: unknown): string {
  return inspect(value, { depth: 3, breakLength: Infinity, maxStringLength: 300 });
}

/**
 * Polls `probe` until it returns (or resolves to) a truthy value and returns that value. A probe
 * that throws counts as "not yet". Rejects after `timeoutMs` with an Error naming `what` and the
 * last value or error seen (the last error is also the `cause`). A probe still pending at the
 * deadline does not hold the wait.
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  opts: WaitForOptions,
): Promise<NonNullable<T>> {
  const { timeoutMs, intervalMs = 50, what } = opts;
  const deadline = Date.now() + timeoutMs;
  let last: { value: unknown } | undefined;
  let lastErr: unknown;
  let probes = 0;
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    probes++;
    try {
      const result = await withTimeout(Promise.resolve().then(probe), remaining);
      if (result.done) {
        if (result.value) return result.value;
        last = { value: result.value };
        lastErr = undefined;
      }
    } catch (err) {
      lastErr = err;
    }
    const pause = Math.min(intervalMs, deadline - Date.now());
    if (pause > 0) await sleep(pause);
  }
  const seen =
    lastErr !== undefined
      ? `last error: ${lastErr instanceof Error ? `${lastErr.name}: ${lastErr.message}` : show(lastErr)}`
      : last
        ? `last value: ${show(last.value)}`
        : 'no probe completed';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${probes} probes; ${seen})`, {
    cause: lastErr,
  });
}

/** Races `p` against `ms`; `done: false` when the time ran out first. The timer never leaks. */
async function withTimeout<T>(p: Promise<T>, ms: number): Promise<{ done: true; value: T } | { done: false }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ done: false }>((res) => {
    timer = setTimeout(() => res({ done: false }), ms);
  });
  try {
    return await Promise.race([p.then((value) => ({ done: true as const, value })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms));
}

/** Countdown latch: `wait()` resolves once `countDown()` was called `count` times. */
export class Latch {
  #count: number;
  readonly #done = deferred();

  constructor(count: number) {
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`Latch count must be an integer >= 0, got ${count}`);
    this.#count = count;
    if (count === 0) this.#done.resolve();
  }

  get count(): number {
    return this.#count;
  }

  countDown(): void {
    if (this.#count === 0) return;
    this.#count--;
    if (this.#count === 0) this.#done.resolve();
  }

  async wait(timeoutMs: number): Promise<void> {
    const r = await withTimeout(this.#done.promise, timeoutMs);
    if (!r.done) throw new Error(`Latch: timed out after ${timeoutMs} ms with ${this.#count} count(s) left`);
  }
}

/**
 * Resolves with the arguments of the next `event` (the first one if there is only one argument,
 * else the array). Rejects on `'error'` or after `timeoutMs`; listeners are removed either way.
 */
export function once<T = unknown>(emitter: EventEmitter, event: string | symbol, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      emitter.removeListener(event, onEvent);
      if (event !== 'error') emitter.removeListener('error', onError);
    };
    const onEvent = (...args: unknown[]): void => {
      cleanup();
      resolve((args.length <= 1 ? args[0] : args) as T);
    };
    const onError = (err: unknown): void => {
      cleanup();
      reject(err instanceof Error ? err : new Error(`'error' event while waiting for '${String(event)}': ${show(err)}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for event '${String(event)}'`));
    }, timeoutMs);
    emitter.on(event, onEvent);
    if (event !== 'error') emitter.on('error', onError);
  });
}
