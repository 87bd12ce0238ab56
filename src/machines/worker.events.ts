/**
 * Events of the worker machine: commands from the Manager (UPPER_SNAKE) and events sent by
 * its invoked services (dotted, named after their source).
 */
import type { Assignment } from '../types.js';
import type { CalculatorToParentEvent } from './calculator.events.js';

export type WorkerCommand =
  | { readonly type: 'START' }
  | { readonly type: 'STOP' }
  | { readonly type: 'ABORT'; readonly reason?: unknown }
  | { readonly type: 'REFRESH' };

export type WorkerServiceEvent =
  /** services/stable-id-lease: renewed at a new revision. */
  | { readonly type: 'lease.renewed'; readonly revision: number }
  /** services/stable-id-lease: someone else holds our ID now, or it expired before we could renew. */
  | { readonly type: 'lease.lost'; readonly error: Error }
  /** services/election: this worker won leadership; epoch = revision of the `leader` key it created. */
  | { readonly type: 'leadership.acquired'; readonly epoch: number }
  /** services/election: leader key renewed at a new revision. */
  | { readonly type: 'leadership.renewed'; readonly revision: number }
  /** services/election: another worker holds the leader key (sent once after the first attempt, and after a loss). */
  | { readonly type: 'leadership.follower' }
  /** services/election: the renewal failed (someone else holds the key, or it expired). */
  | { readonly type: 'leadership.lost'; readonly error: Error }
  /** services/assignment-watch: a parsed assignment for this worker (not yet checked for freshness). */
  | { readonly type: 'assignment.received'; readonly assignment: Assignment }
  /** services/connection-health: NATS down for degraded.enterThreshold. */
  | { readonly type: 'connection.lost' }
  /** services/connection-health: NATS back for degraded.exitThreshold. */
  | { readonly type: 'connection.restored' }
  /** Any service: a non-fatal problem worth reporting to onError and the log (malformed KV value, failed heartbeat…). */
  | { readonly type: 'service.error'; readonly source: string; readonly error: Error };

export type WorkerEvent = WorkerCommand | WorkerServiceEvent | CalculatorToParentEvent;
