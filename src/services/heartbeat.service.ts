/**
 * Publishes `heartbeat.<workerId>` = JSON `{ts, state, leader, version}` at once and then
 * heartbeatInterval after each put completes (never overlapping). A failed put is reported once
 * per failure streak as `service.error` and the beat goes on. Unsubscribing stops the beat but
 * does not delete the key: the Shutdown teardown does that on a graceful stop.
 */
import { type Observable, catchError, defer, filter, map, of, repeat, switchMap, throwError, timeout } from 'rxjs';
import { fromEventObservable } from 'xstate';
import { KvError, PartiError, TimeoutError } from '../errors.js';
import type { WorkerEvent, WorkerServiceEvent } from '../machines/worker.events.js';
import { encodeHeartbeat } from '../wire/heartbeat.js';
import { heartbeatKey } from '../wire/keys.js';
import type { ServiceDeps } from './deps.js';

export interface HeartbeatInput {
  readonly workerId: string;
}

export type HeartbeatEvent = Extract<WorkerServiceEvent, { type: 'service.error' }>;

export const HEARTBEAT_SOURCE = 'heartbeat';

export function heartbeatEvents$(deps: ServiceDeps, input: HeartbeatInput): Observable<HeartbeatEvent> {
  const key = heartbeatKey(input.workerId);
  const { heartbeatInterval, heartbeatTtl } = deps.config;
  const log = deps.logger.child({ component: 'heartbeat', workerId: input.workerId });

  return defer(() => deps.buckets()).pipe(
    switchMap(({ heartbeat }) => {
      let failing = false; // per subscription: inside a failure streak
      // defer: the put is issued only while subscribed, never after the service stopped.
      // Tracked: teardown waits for a put in flight before it deletes the key.
      const beat$ = defer(() => deps.writes.track(key, heartbeat.put(key, encodeHeartbeat({ ts: deps.now(), ...deps.status() })))).pipe(
        // A put slower than the TTL is useless; give up on it and go on beating.
        timeout({ first: heartbeatTtl, with: () => throwError(() => new TimeoutError('heartbeat put', heartbeatTtl)) }),
        map((): HeartbeatEvent | undefined => {
          if (failing) log.info({}, 'heartbeat recovered');
          failing = false;
          return undefined;
        }),
        catchError((err: unknown): Observable<HeartbeatEvent | undefined> => {
          const error = err instanceof PartiError ? err : new KvError('heartbeat put', { cause: err });
          if (failing) return of(undefined);
          failing = true;
          log.warn({ err: error }, 'heartbeat failed');
          return of({ type: 'service.error', source: HEARTBEAT_SOURCE, error });
        }),
      );
      return beat$.pipe(
        repeat({ delay: heartbeatInterval }),
        filter((e): e is HeartbeatEvent => e !== undefined),
      );
    }),
  );
}

/** Actor logic: `fromEventObservable`, input HeartbeatInput, sends `service.error` on failures. */
export function createHeartbeat(deps: ServiceDeps) {
  return fromEventObservable<WorkerEvent, HeartbeatInput>(({ input }) => heartbeatEvents$(deps, input));
}

