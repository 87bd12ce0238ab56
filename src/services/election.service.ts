/**
 * Leader election on the `leader` key of the election bucket (its TTL, electionTimeout, is the
 * lease). The first attempt is a create-if-absent: won → `leadership.acquired` (epoch = revision
 * of the created key), otherwise → `leadership.follower`, so exactly one of the two arrives
 * promptly after start.
 *
 * Leader mode: renew every electionTimeout/3 with a revision-checked update →
 * `leadership.renewed` (at once when the watch reports the key deleted or expired). Someone
 * else's write → `leadership.lost` at once; transient failures are
 * retried at the next tick, and with no successful renewal for electionTimeout since the last one
 * the key must be assumed expired → `leadership.lost`. After a loss: `leadership.follower`.
 *
 * Follower mode: contend again when the watch reports the key deleted or expired (DEL/PURGE),
 * and every electionTimeout/3 anyway (servers without expiry markers report no expiry).
 *
 * Unsubscribing stops everything but never deletes the key (the Shutdown teardown does).
 */
import { type Observable, defer, retry, timer } from 'rxjs';
import { fromEventObservable } from 'xstate';
import { KvError, LeaseLostError, PartiError, RevisionMismatchError, TimeoutError } from '../errors.js';
import type { WorkerEvent, WorkerServiceEvent } from '../machines/worker.events.js';
import { LEADER_KEY, leaderValue } from '../wire/keys.js';
import type { ServiceDeps } from './deps.js';
import { holdFencedLease } from './fenced-lease.js';
import { Doorbell, backoffMs, loop$, monotonicMs, settle } from './timers.js';

export interface ElectionInput {
  readonly workerId: string;
}

export type ElectionEvent = Extract<
  WorkerServiceEvent,
  {
    type: 'leadership.acquired' | 'leadership.renewed' | 'leadership.follower' | 'leadership.lost' | 'service.error';
  }
>;

export const ELECTION_SOURCE = 'election';

const typed = (err: unknown, operation: string): Error =>
  err instanceof PartiError ? err : new KvError(operation, { cause: err });

export function electionEvents$(deps: ServiceDeps, input: ElectionInput): Observable<ElectionEvent> {
  const lease = deps.config.electionTimeout;
  const period = Math.max(1, Math.floor(lease / 3));
  const { workerId } = input;
  const log = deps.logger.child({ component: 'election', workerId });

  return loop$<ElectionEvent>(async (emit, signal) => {
    const bucket = (await deps.buckets()).election;
    if (signal.aborted) return; // stopped while the buckets were opening: issue nothing
    const gone = new Doorbell();
    // One watch for the service's lifetime: a DEL or PURGE (expiry marker) of `leader` wakes a follower.
    const watch = defer(() => bucket.watch({ key: LEADER_KEY, updatesOnly: true }))
      .pipe(
        retry({
          delay: (err: unknown, n) => {
            log.warn({ err }, 'leader watch failed; retrying');
            return timer(backoffMs(n - 1));
          },
          resetOnSuccess: true,
        }),
      )
      .subscribe((ev) => {
        if (ev.kind === 'entry' && ev.entry.operation !== 'PUT') gone.ring();
      });
    // Release the watch synchronously on unsubscribe, not a few microtasks later.
    signal.addEventListener('abort', () => watch.unsubscribe(), { once: true });

    let failing = false; // inside a streak of transient failures (reported once)
    const transient = (err: unknown, operation: string): void => {
      if (failing) return;
      failing = true;
      const error = typed(err, operation);
      log.warn({ err: error }, `${operation} failed; retrying`);
      emit({ type: 'service.error', source: ELECTION_SOURCE, error });
    };

    /** Renews until the lease is lost (returns) or the service stops (rejects with AbortError). */
    const lead = async (epoch: number, wonAt: number): Promise<void> => {
      const loss = await holdFencedLease({
        lease,
        period,
        revision: epoch,
        since: wonAt,
        renew: (revision) => deps.writes.track(LEADER_KEY, bucket.update(LEADER_KEY, leaderValue(workerId, deps.now()), revision)),
        // A DEL/PURGE of `leader` while we lead means our key is gone: check at once, not at the next tick.
        wait: (ms, s) => gone.wait(ms, s),
        signal,
        onRenewed: (revision) => {
          failing = false;
          emit({ type: 'leadership.renewed', revision });
        },
        onTransient: (err) => transient(err, 'leader renewal'),
      });
      log.warn(
        { err: loss.cause, epoch },
        loss.reason === 'taken' ? 'leader key taken over; stepping down' : 'leader lease expired before it could be renewed; stepping down',
      );
      emit({ type: 'leadership.lost', error: new LeaseLostError(LEADER_KEY, { cause: loss.cause }) });
    };

    let announceFollower = true; // only the first failed attempt is announced
    try {
      for (;;) {
        const started = monotonicMs();
        const r = await settle(deps.writes.track(LEADER_KEY, bucket.create(LEADER_KEY, leaderValue(workerId, deps.now()))), {
          signal,
          timeoutMs: lease,
        });
        if (r.kind === 'ok') {
          failing = false;
          gone.clear();
          log.info({ epoch: r.value }, 'won leadership');
          emit({ type: 'leadership.acquired', epoch: r.value });
          await lead(r.value, started);
          // Lost: back to follower mode, announced at once; contend again on the usual triggers.
          emit({ type: 'leadership.follower' });
          await gone.wait(period, signal);
          continue;
        }
        if (r.kind === 'error' && r.error instanceof RevisionMismatchError) failing = false;
        else transient(r.kind === 'error' ? r.error : new TimeoutError('leader create', lease), 'leader create');
        if (announceFollower) {
          announceFollower = false;
          emit({ type: 'leadership.follower' });
        }
        await gone.wait(period, signal);
      }
    } finally {
      watch.unsubscribe();
    }
  });
}

/** Actor logic: `fromEventObservable`, input ElectionInput, sends ElectionEvent to the parent. */
export function createElection(deps: ServiceDeps) {
  return fromEventObservable<WorkerEvent, ElectionInput>(({ input }) => electionEvents$(deps, input));
}
