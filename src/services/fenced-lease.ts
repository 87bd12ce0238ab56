/**
 * Holding a fenced lease: renew a key by revision-checked update every `period` until the lease
 * is lost. Shared by the stable-ID lease and leadership, which differ only in what they write and
 * whom they tell.
 *
 * Lost means one of two things, and the caller must stop acting on the lease at once:
 * - 'taken': an update found the key at another revision (someone else wrote it);
 * - 'expired': no renewal succeeded for `lease` ms since the last success, so the server has
 *   dropped the key by now (transient failures are retried until then; a hung update is given up
 *   when the lease runs out).
 */
import { RevisionMismatchError, TimeoutError } from '../errors.js';
import { monotonicMs, settle } from './timers.js';

export interface FencedLeaseOptions {
  /** The lease length (the bucket TTL), ms. */
  readonly lease: number;
  /** Time between renewals, ms. */
  readonly period: number;
  /** Revision of the write that won the lease. */
  readonly revision: number;
  /** Monotonic time (timers.monotonicMs) of that write. */
  readonly since: number;
  /** Writes the key at `revision`; resolves with the new revision. */
  readonly renew: (revision: number) => Promise<number>;
  /** Waits until the next renewal is due (`ms`), or earlier (e.g. when the key was seen deleted). */
  readonly wait: (ms: number, signal: AbortSignal) => Promise<unknown>;
  readonly signal: AbortSignal;
  readonly onRenewed: (revision: number) => void;
  /** A renewal failed for a reason that may pass; it is retried at the next period. */
  readonly onTransient: (error: unknown) => void;
}

export interface LeaseLoss {
  readonly reason: 'taken' | 'expired';
  readonly cause: unknown;
}

/** Renews until the lease is lost and resolves with why; rejects with AbortError when `signal` aborts. */
export async function holdFencedLease(o: FencedLeaseOptions): Promise<LeaseLoss> {
  let revision = o.revision;
  let lastOk = o.since;
  let lastError: unknown;
  for (;;) {
    await o.wait(Math.min(o.period, lastOk + o.lease - monotonicMs()), o.signal);
    const started = monotonicMs();
    const remaining = lastOk + o.lease - started;
    const r = remaining <= 0 ? ({ kind: 'timeout' } as const) : await settle(o.renew(revision), { signal: o.signal, timeoutMs: remaining });
    if (r.kind === 'ok') {
      revision = r.value;
      lastOk = started;
      lastError = undefined;
      o.onRenewed(revision);
    } else if (r.kind === 'error' && r.error instanceof RevisionMismatchError) {
      return { reason: 'taken', cause: r.error };
    } else if (r.kind === 'error') {
      lastError = r.error;
      o.onTransient(r.error);
    } else {
      return { reason: 'expired', cause: lastError ?? new TimeoutError('lease renewal', o.lease) };
    }
  }
}
