/**
 * Watches `assignment.<workerId>` (initial value included) and relays each parsed PUT as
 * `assignment.received`. A malformed value is reported as `service.error` and skipped; DEL and
 * PURGE are ignored. Freshness (version/epoch) is the machine's call (`isNewerAssignment`). A
 * failed watch is reported and resubscribed with backoff; the replay that follows is harmless
 * because the machine ignores assignments that are not newer.
 */
import { EMPTY, type Observable, catchError, concat, concatWith, defer, mergeMap, of, retry, throwError, timer } from 'rxjs';
import { fromEventObservable } from 'xstate';
import { KvError, MalformedValueError, PartiError } from '../errors.js';
import type { WorkerEvent, WorkerServiceEvent } from '../machines/worker.events.js';
import { decodeAssignment } from '../wire/assignment.js';
import { assignmentKey } from '../wire/keys.js';
import type { ServiceDeps } from './deps.js';
import { backoffMs } from './timers.js';

export interface AssignmentWatchInput {
  readonly workerId: string;
}

export type AssignmentWatchEvent = Extract<WorkerServiceEvent, { type: 'assignment.received' | 'service.error' }>;

export const ASSIGNMENT_WATCH_SOURCE = 'assignment-watch';

export function assignmentWatchEvents$(deps: ServiceDeps, input: AssignmentWatchInput): Observable<AssignmentWatchEvent> {
  const key = assignmentKey(input.workerId);
  const log = deps.logger.child({ component: 'assignment-watch', workerId: input.workerId });
  const serviceError = (error: Error): AssignmentWatchEvent => ({ type: 'service.error', source: ASSIGNMENT_WATCH_SOURCE, error });

  return defer(() => {
    let reported = false; // one service.error per streak of watch failures
    const watch$ = defer(() => deps.buckets()).pipe(
      mergeMap((b) => b.assignment.watch({ key })),
      mergeMap((ev): Observable<AssignmentWatchEvent> => {
        reported = false;
        if (ev.kind !== 'entry' || ev.entry.operation !== 'PUT') return EMPTY;
        try {
          return of({ type: 'assignment.received', assignment: decodeAssignment(key, ev.entry.value) });
        } catch (err) {
          const error = err instanceof MalformedValueError ? err : new MalformedValueError(key, String(err), { cause: err });
          log.warn({ err: error, revision: ev.entry.revision }, 'skipping malformed assignment');
          return of(serviceError(error));
        }
      }),
    );
    return watch$.pipe(
      // A watch that ends on its own is a failure too: it must resume.
      concatWith(throwError(() => new KvError(`watch ${key} ended`))),
      // Report a failed watch (once per streak), then resubscribe after a backoff.
      catchError((err: unknown) => {
        const error = err instanceof PartiError ? err : new KvError(`watch ${key}`, { cause: err });
        log.warn({ err: error }, 'assignment watch failed; retrying');
        const report = reported ? EMPTY : of(serviceError(error));
        reported = true;
        return concat(report, throwError(() => error));
      }),
      retry({ delay: (_err: unknown, n) => timer(backoffMs(n - 1)), resetOnSuccess: true }),
    );
  });
}

/** Actor logic: `fromEventObservable`, input AssignmentWatchInput, sends AssignmentWatchEvent to the parent. */
export function createAssignmentWatch(deps: ServiceDeps) {
  return fromEventObservable<WorkerEvent, AssignmentWatchInput>(({ input }) =>
    assignmentWatchEvents$(deps, input),
  );
}

