/**
 * Shared vocabulary of parti-ts: partitions, assignments, worker states, the strategy and
 * source contracts, hooks and the logger shape. Types only (plus two tiny pure helpers);
 * no I/O. Errors live in ./errors.ts.
 */

/** A unit of work. `keys` identify it (ordered); `weight` is its relative cost. Wire-compatible with parti Go. */
export interface Partition {
  readonly keys: readonly string[];
  readonly weight: number;
}

/** Partition id: keys joined with '-' (parti Go `Partition.ID()`). */
export function partitionId(p: Partition): string {
  return p.keys.join('-');
}

/** Subject key: keys joined with '.' (parti Go `Partition.SubjectKey()`). */
export function partitionSubjectKey(p: Partition): string {
  return p.keys.join('.');
}

/** Public worker states. Same names in the API, logs, metrics and the CLI. */
export const WORKER_STATES = [
  'Init',
  'Claiming',
  'Election',
  'WaitingAssignment',
  'Stable',
  'Scaling',
  'Rebalancing',
  'Emergency',
  'Degraded',
  'Shutdown',
] as const;
export type WorkerState = (typeof WORKER_STATES)[number];

/** States of the leader's calculator child actor. */
export type CalculatorState = 'Idle' | 'Scaling' | 'Rebalancing' | 'Emergency';

/**
 * Why an assignment was published. parti Go writes these exact strings (note the hyphen in
 * 'manual-refresh'); parti-ts adds 'graceful_leave' for a departure announced by a heartbeat DEL.
 */
export type Lifecycle =
  | 'cold_start_immediate'
  | 'cold_start_final'
  | 'cold_start'
  | 'planned_scale'
  | 'graceful_leave'
  | 'emergency'
  | 'manual-refresh';

/** The assignment a worker currently holds, as read from `assignment.<workerId>`. */
export interface Assignment {
  /** Cluster-wide publish counter; strictly increasing across leaders. */
  readonly version: number;
  /** Leader epoch (revision of the `leader` key when leadership was won); undefined when written by a Go leader. */
  readonly epoch: number | undefined;
  readonly lifecycle: string;
  readonly partitions: readonly Partition[];
}

/** Input of an assignment strategy. */
export interface AssignInput {
  /** Live worker IDs, in any order (strategies sort). */
  readonly workers: readonly string[];
  /** Partitions to place, in any order (strategies sort). */
  readonly partitions: readonly Partition[];
  /** The previous assignment (worker ID → partitions), for strategies that keep placement sticky. */
  readonly previous?: ReadonlyMap<string, readonly Partition[]>;
}

/** Worker ID → partitions. Contains every input worker (possibly with an empty list). */
export type AssignmentMap = Map<string, Partition[]>;

/**
 * An assignment strategy: a pure, deterministic function of its (sorted) inputs. No I/O, no clock.
 * Throws a PartiError (NoWorkersError, InvalidPartitionError) on input it cannot place.
 */
export interface AssignmentStrategy {
  readonly name: string;
  readonly version: number;
  assign(input: AssignInput): AssignmentMap;
}

/** Where the leader gets the partitions to place. Called on every rebalance. */
export interface PartitionSource {
  listPartitions(signal?: AbortSignal): Promise<readonly Partition[]>;
}

/** The change handed to `onAssignmentChanged`. `added`/`removed` are true deltas by partition id. */
export interface AssignmentChange {
  readonly added: readonly Partition[];
  readonly removed: readonly Partition[];
  readonly current: readonly Partition[];
  readonly version: number;
  readonly epoch: number | undefined;
}

export interface StateChange {
  readonly from: WorkerState;
  readonly to: WorkerState;
}

/** User callbacks. Called one at a time per manager, in event order; a throwing hook goes to onError. */
export interface Hooks {
  onAssignmentChanged?: (change: AssignmentChange) => void | Promise<void>;
  onStateChanged?: (change: StateChange) => void | Promise<void>;
  onError?: (error: Error) => void | Promise<void>;
}

/** The subset of pino's logger parti-ts uses. Any pino logger satisfies it. */
export interface Logger {
  trace(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}
