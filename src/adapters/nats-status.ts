/**
 * `nc.status()` as an Observable of parti ConnectionStatus. An explicit Observable, not
 * `from(asyncIterable)`: the teardown stops the status iterator at once instead of waiting for the
 * next event. Completes after 'close' (or at once when the connection is already closed).
 */
import { Observable, share } from 'rxjs';
import type { NatsConnection, Status } from '@nats-io/transport-node';
import type { ConnectionStatus } from './kv-port.js';

/** Maps a client status event; every type without a parti meaning becomes 'other'. */
export function toConnectionStatus(s: Status): ConnectionStatus {
  switch (s.type) {
    case 'disconnect':
      return { type: 'disconnect' };
    case 'reconnecting':
      return { type: 'reconnecting' };
    case 'reconnect':
      return { type: 'reconnect' };
    case 'error':
      return { type: 'error', error: s.error };
    case 'close':
      return { type: 'close' };
    default:
      return { type: 'other', detail: s.type };
  }
}

type StoppableIterable<T> = AsyncIterable<T> & { stop?: () => void };

/** Cold: each subscription owns one status iterator, stopped on unsubscribe. */
export function connectionStatus$(nc: NatsConnection): Observable<ConnectionStatus> {
  return new Observable<ConnectionStatus>((subscriber) => {
    if (nc.isClosed()) {
      subscriber.complete();
      return undefined;
    }
    const iter: StoppableIterable<Status> = nc.status();
    let done = false;
    const run = async (): Promise<void> => {
      for await (const s of iter) {
        if (done) break;
        const status = toConnectionStatus(s);
        subscriber.next(status);
        if (status.type === 'close') break;
      }
      subscriber.complete();
    };
    // The client pushes 'close' to every status iterator and then stops it, so the loop ends.
    run().catch((err: unknown) => subscriber.error(err));
    return () => {
      done = true;
      iter.stop?.();
    };
  });
}

/** Hot, shared: one iterator for all subscribers while at least one is subscribed. */
export function sharedConnectionStatus$(nc: NatsConnection): Observable<ConnectionStatus> {
  return connectionStatus$(nc).pipe(share());
}
