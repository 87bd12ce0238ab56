/**
 * Turns the store's connection status into two debounced events: `connection.lost` once the
 * connection has been down for degraded.enterThreshold without reconnecting, and
 * `connection.restored` once it has then been up for degraded.exitThreshold (only after a
 * `connection.lost`). A flip-flop cancels the pending timer. A closed connection (status$
 * completes) counts as down for good.
 */
import { EMPTY, type Observable, concatWith, defer, distinctUntilChanged, filter, map, of, startWith, switchMap, timer } from 'rxjs';
import { fromEventObservable } from 'xstate';
import type { ConnectionStatus } from '../adapters/kv-port.js';
import type { WorkerEvent, WorkerServiceEvent } from '../machines/worker.events.js';
import type { ServiceDeps } from './deps.js';

export type ConnectionHealthEvent = Extract<WorkerServiceEvent, { type: 'connection.lost' | 'connection.restored' }>;

type Link = 'up' | 'down';

function linkOf(s: ConnectionStatus): Link | undefined {
  switch (s.type) {
    case 'disconnect':
    case 'reconnecting':
    case 'close':
      return 'down';
    case 'reconnect':
      return 'up';
    default:
      return undefined;
  }
}

export function connectionHealthEvents$(deps: ServiceDeps): Observable<ConnectionHealthEvent> {
  const { enterThreshold, exitThreshold } = deps.config.degraded;
  const log = deps.logger.child({ component: 'connection-health' });

  return defer(() => {
    let lost = false; // per subscription: connection.lost sent and not yet restored
    return deps.store.status$.pipe(
      map(linkOf),
      filter((l): l is Link => l !== undefined),
      // The connection was up when the worker got this far; a closed connection stays down.
      startWith<Link>('up'),
      concatWith(of<Link>('down')),
      distinctUntilChanged(),
      switchMap((link): Observable<ConnectionHealthEvent> => {
        if (link === 'down') {
          log.warn({}, 'NATS connection down');
          if (lost) return EMPTY;
          return timer(enterThreshold).pipe(
            map(() => {
              lost = true;
              log.warn({ enterThreshold }, 'NATS connection lost');
              return { type: 'connection.lost' } as const;
            }),
          );
        }
        if (!lost) return EMPTY;
        log.info({}, 'NATS connection up');
        return timer(exitThreshold).pipe(
          map(() => {
            lost = false;
            log.info({ exitThreshold }, 'NATS connection restored');
            return { type: 'connection.restored' } as const;
          }),
        );
      }),
    );
  });
}

/** Actor logic: `fromEventObservable`, no input, sends ConnectionHealthEvent to the parent. */
export function createConnectionHealth(deps: ServiceDeps) {
  return fromEventObservable<WorkerEvent, Record<string, never>>(() => connectionHealthEvents$(deps));
}
