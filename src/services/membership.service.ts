/**
 * The leader's view of the group, from the heartbeat bucket, as calculator MembershipEvents:
 *
 * - `membership.snapshot` with the workers whose `heartbeat.<id>` key is live: once at start, then
 *   at every periodic listing (every heartbeatTtl/2 when the bucket cannot show expiry on a watch,
 *   nats-server 2.10; every heartbeatTtl otherwise, as a safety net), and after a watch resumed.
 * - from the `heartbeat.*` watch (updates only): a PUT of an unknown worker → `membership.joined`,
 *   a DEL → `membership.left`, a PURGE written on expiry (`expired: true`) → `membership.expired`,
 *   any other PURGE → `membership.left`.
 *
 * A listing is merged with the watch changes that arrive while it is in flight, so a worker that
 * joins or leaves during it is not misreported. A failed listing is logged and retried with
 * backoff; a failed watch is logged and resubscribed with backoff (the adapter already retries
 * transient failures). The Observable never errors; unsubscribing stops the watch and every timer.
 */
import { Observable, type Subscription } from 'rxjs';
import { fromEventObservable } from 'xstate';
import type { KvBucket, KvEntry } from '../adapters/kv-port.js';
import type { MembershipEvent } from '../machines/calculator.events.js';
import { HEARTBEAT_PREFIX, workerIdOf } from '../wire/keys.js';
import type { ServiceDeps } from './deps.js';
import { AbortError } from '../errors.js';
import { Doorbell, backoffMs, sleep } from './timers.js';

export interface MembershipInput {
  readonly workerId: string;
}

const HEARTBEAT_PATTERN = `${HEARTBEAT_PREFIX}*`;

/** Worker ID of a heartbeat key (single token after the prefix), or undefined. */
function heartbeatWorker(key: string): string | undefined {
  const id = workerIdOf(key, HEARTBEAT_PREFIX);
  return id === undefined || id.includes('.') ? undefined : id;
}

export function membershipEvents$(deps: ServiceDeps, input: MembershipInput): Observable<MembershipEvent> {
  const log = deps.logger.child({ component: 'membership', workerId: input.workerId });
  const ttl = deps.config.heartbeatTtl;

  return new Observable<MembershipEvent>((subscriber) => {
    const ac = new AbortController();
    const { signal } = ac;
    const emit = (e: MembershipEvent): void => {
      if (!signal.aborted) subscriber.next(e);
    };

    /** Workers believed live (from the last listing and the watch since). */
    let known = new Set<string>();
    /** The first snapshot was emitted: watch changes are relayed from then on. */
    let ready = false;
    /** Watch changes seen while a listing is in flight (worker → present after the change). */
    let inFlightChanges: Map<string, boolean> | undefined;
    /** Rung when the watch caught up (first time, or after a resubscribe) or failed: list now. */
    const relist = new Doorbell();
    let watchSub: Subscription | undefined;

    const onEntry = (entry: KvEntry): void => {
      const id = heartbeatWorker(entry.key);
      if (id === undefined) return;
      const present = entry.operation === 'PUT';
      inFlightChanges?.set(id, present);
      if (present) {
        if (known.has(id)) return;
        known.add(id);
        if (ready) emit({ type: 'membership.joined', workerId: id });
        return;
      }
      // Only a worker believed live can leave (a tombstone's own expiry, say, is not news).
      if (!known.delete(id) || !ready) return;
      if (entry.operation === 'PURGE' && entry.expired) emit({ type: 'membership.expired', workerId: id });
      else emit({ type: 'membership.left', workerId: id });
    };

    const startWatch = (bucket: KvBucket, attempt: number): void => {
      if (signal.aborted) return;
      let failed = false;
      const fail = (err: unknown): void => {
        if (failed || signal.aborted) return;
        failed = true;
        watchSub?.unsubscribe();
        log.warn({ err, attempt }, 'heartbeat watch failed; resubscribing');
        relist.ring(); // poll meanwhile
        sleep(backoffMs(attempt, 100, ttl), signal).then(
          () => startWatch(bucket, attempt + 1),
          () => undefined, // aborted: the service stopped
        );
      };
      watchSub = bucket.watch({ key: HEARTBEAT_PATTERN, updatesOnly: true }).subscribe({
        next: (ev) => {
          if (ev.kind === 'caught-up') {
            // The watch is live: a listing now covers whatever it could have missed before.
            attempt = 0;
            relist.ring();
          } else {
            onEntry(ev.entry);
          }
        },
        error: fail,
        complete: () => fail(new Error('heartbeat watch ended')),
      });
    };

    /** List live heartbeats (merged with concurrent watch changes) and emit a snapshot. Retries until it succeeds. */
    const listOnce = async (bucket: KvBucket): Promise<void> => {
      for (let attempt = 0; ; attempt++) {
        inFlightChanges = new Map();
        try {
          const keys = await bucket.keys(HEARTBEAT_PATTERN);
          const changes = inFlightChanges;
          inFlightChanges = undefined;
          const listed = new Set<string>();
          for (const key of keys) {
            const id = heartbeatWorker(key);
            if (id !== undefined) listed.add(id);
          }
          for (const [id, present] of changes) {
            if (present) listed.add(id);
            else listed.delete(id);
          }
          known = listed;
          ready = true;
          emit({ type: 'membership.snapshot', workers: [...listed].sort() });
          return;
        } catch (err) {
          inFlightChanges = undefined;
          if (signal.aborted) throw err;
          log.warn({ err, attempt }, 'heartbeat listing failed; retrying');
          await sleep(backoffMs(attempt, 100, ttl), signal);
        }
      }
    };

    const openBucket = async (): Promise<KvBucket> => {
      for (let attempt = 0; ; attempt++) {
        try {
          return (await deps.buckets()).heartbeat;
        } catch (err) {
          if (signal.aborted) throw err;
          log.warn({ err, attempt }, 'cannot open the heartbeat bucket; retrying');
          await sleep(backoffMs(attempt, 100, ttl), signal);
        }
      }
    };

    const run = async (): Promise<void> => {
      const bucket = await openBucket();
      if (signal.aborted) return;
      // Without expiry markers a crash is only visible to a listing: poll at half the TTL.
      const period = bucket.expiryObservable ? ttl : Math.max(1, Math.floor(ttl / 2));
      startWatch(bucket, 0);
      // Wait until the watch is live (or failed), so the first listing leaves no gap.
      await relist.wait(ttl, signal);
      for (;;) {
        await listOnce(bucket);
        await relist.wait(period, signal);
      }
    };

    run().catch((err: unknown) => {
      if (signal.aborted) return;
      // Not expected (every step retries); never leave the leader blind silently.
      log.error({ err }, 'membership service failed');
      subscriber.error(err);
    });

    return () => {
      ac.abort(new AbortError('membership service stopped'));
      watchSub?.unsubscribe();
    };
  });
}

/** Actor logic: `fromEventObservable`, input MembershipInput, sends MembershipEvents to the calculator. */
export function createMembershipWatch(deps: ServiceDeps) {
  return fromEventObservable<MembershipEvent, MembershipInput>(({ input }) => membershipEvents$(deps, input));
}
