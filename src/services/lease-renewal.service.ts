/**
 * Keeps the stable-ID lease alive: every workerIdTtl/3 a revision-checked update (fenced, unlike
 * parti Go's blind put). Someone else's write → `lease.lost` at once. Transient failures are
 * retried at the next tick; if no renewal succeeded for workerIdTtl since the last success (the key
 * has expired on the server by then) → `lease.lost`. Completes after `lease.lost`.
 */
import type { Observable } from 'rxjs';
import { fromEventObservable } from 'xstate';
import { LeaseLostError } from '../errors.js';
import type { WorkerEvent, WorkerServiceEvent } from '../machines/worker.events.js';
import { stableIdValue } from '../wire/keys.js';
import type { ServiceDeps } from './deps.js';
import { holdFencedLease } from './fenced-lease.js';
import { loop$, monotonicMs, sleep } from './timers.js';

export interface LeaseRenewalInput {
  /** The claimed ID (also its key in the stable-ID bucket). */
  readonly workerId: string;
  /** Revision returned by the claim (or the last renewal). */
  readonly revision: number;
}

export type LeaseRenewalEvent = Extract<WorkerServiceEvent, { type: 'lease.renewed' | 'lease.lost' }>;

export function leaseRenewalEvents$(deps: ServiceDeps, input: LeaseRenewalInput): Observable<LeaseRenewalEvent> {
  const ttl = deps.config.workerIdTtl;
  const period = Math.max(1, Math.floor(ttl / 3));
  const key = input.workerId;
  const log = deps.logger.child({ component: 'lease-renewal', workerId: key });

  return loop$<LeaseRenewalEvent>(async (emit, signal) => {
    const bucket = (await deps.buckets()).stableId;
    if (signal.aborted) return; // stopped while the buckets were opening: issue nothing
    const loss = await holdFencedLease({
      lease: ttl,
      period,
      revision: input.revision,
      // The claim happened just before this service started; count the lease from here.
      since: monotonicMs(),
      renew: (revision) => deps.writes.track(key, bucket.update(key, stableIdValue(deps.now()), revision)),
      wait: sleep,
      signal,
      onRenewed: (revision) => emit({ type: 'lease.renewed', revision }),
      onTransient: (err) => log.warn({ err }, 'stable ID renewal failed; retrying at the next tick'),
    });
    log.warn(
      { err: loss.cause },
      loss.reason === 'taken' ? 'stable ID taken over by another writer' : 'stable ID lease expired before it could be renewed',
    );
    emit({ type: 'lease.lost', error: new LeaseLostError(key, { cause: loss.cause }) });
  });
}

/** Actor logic: `fromEventObservable`, input LeaseRenewalInput, sends LeaseRenewalEvent to the parent. */
export function createLeaseRenewal(deps: ServiceDeps) {
  return fromEventObservable<WorkerEvent, LeaseRenewalInput>(({ input }) => leaseRenewalEvents$(deps, input));
}
