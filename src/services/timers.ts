/**
 * Small timing helpers shared by the services: a cancellable sleep, a doorbell (wake a sleeper
 * early), a bounded wait on a KV call, backoff, and `loop$`, which turns an async loop driven by an
 * AbortSignal into an Observable whose unsubscribe aborts the loop. Nothing here keeps state
 * between calls; every timer is cleared when its wait ends or its signal aborts.
 */
import { Observable } from 'rxjs';
import { AbortError } from '../errors.js';

/** Resolves after `ms`, or rejects with AbortError as soon as `signal` aborts. The timer never leaks. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new AbortError('sleep aborted', { cause: signal.reason }));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortError('sleep aborted', { cause: signal.reason }));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The outcome of a bounded wait on a promise. */
export type Settled<T> =
  | { readonly kind: 'ok'; readonly value: T }
  | { readonly kind: 'error'; readonly error: unknown }
  | { readonly kind: 'timeout' };

/**
 * Waits for `p` for at most `timeoutMs` (no limit when undefined). Never rejects for `p`'s
 * failure or the time running out (both are outcomes); rejects with AbortError when `signal`
 * aborts first. `p` itself keeps running (KV calls cannot be cancelled); its late result is dropped.
 */
export function settle<T>(p: Promise<T>, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Settled<T>> {
  const { signal, timeoutMs } = opts;
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      done();
      reject(new AbortError('wait aborted', { cause: signal?.reason }));
    };
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        done();
        resolve({ kind: 'timeout' });
      }, Math.max(0, timeoutMs));
    }
    p.then(
      (value) => {
        done();
        resolve({ kind: 'ok', value });
      },
      (error: unknown) => {
        done();
        resolve({ kind: 'error', error });
      },
    );
  });
}

/**
 * A one-slot wake-up flag. `ring()` wakes the current waiter, or the next one if nobody waits
 * (so a ring between two waits is not lost). Created per subscription, never shared.
 */
export class Doorbell {
  #rung = false;
  #wake: (() => void) | undefined;

  ring(): void {
    this.#rung = true;
    this.#wake?.();
  }

  clear(): void {
    this.#rung = false;
  }

  /** Resolves 'rung' on a ring (consuming it) or 'timeout' after `ms`; rejects with AbortError on abort. */
  async wait(ms: number, signal: AbortSignal): Promise<'rung' | 'timeout'> {
    if (this.#rung) {
      this.#rung = false;
      return 'rung';
    }
    const rung = new Promise<'rung'>((resolve) => {
      this.#wake = () => resolve('rung');
    });
    try {
      const r = await settle(rung, { signal, timeoutMs: ms });
      if (r.kind === 'ok') {
        this.#rung = false;
        return 'rung';
      }
      return 'timeout';
    } finally {
      this.#wake = undefined;
    }
  }
}

/** Exponential backoff with ±20 % jitter: base × 2^attempt, capped at `max`. `attempt` counts from 0. */
export function backoffMs(attempt: number, base = 250, max = 30_000): number {
  const raw = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return Math.round(raw * (0.8 + Math.random() * 0.4));
}

/** Elapsed-time source for deadlines (monotonic; unaffected by an injected wall clock). */
export const monotonicMs = (): number => performance.now();

/**
 * An Observable that runs `body` on subscribe and aborts its signal on unsubscribe. Values passed
 * to `emit` are delivered while subscribed; `body` resolving completes the Observable, rejecting
 * errors it (unless the rejection is the abort itself, after unsubscribe).
 */
export function loop$<T>(body: (emit: (value: T) => void, signal: AbortSignal) => Promise<void>): Observable<T> {
  return new Observable<T>((subscriber) => {
    const ac = new AbortController();
    const emit = (value: T): void => {
      if (!ac.signal.aborted) subscriber.next(value);
    };
    body(emit, ac.signal).then(
      () => {
        if (!ac.signal.aborted) subscriber.complete();
      },
      (err: unknown) => {
        if (!ac.signal.aborted) subscriber.error(err);
      },
    );
    return () => ac.abort(new AbortError('service stopped'));
  });
}
