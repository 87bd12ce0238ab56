/**
 * What the services need from the outside world, handed to each service factory by the
 * Manager. Services depend on this and on the KV port only, never on NATS types.
 */
import type { KvBucket, KvStore } from '../adapters/kv-port.js';
import type { PartiConfig } from '../config.js';
import type { AssignmentStrategy, Logger, PartitionSource, WorkerState } from '../types.js';
import type { WriteLedger } from './write-ledger.js';

export interface PartiBuckets {
  readonly stableId: KvBucket;
  readonly election: KvBucket;
  readonly heartbeat: KvBucket;
  readonly assignment: KvBucket;
}

/** What a heartbeat reports about its worker, read at each beat. */
export interface WorkerStatus {
  readonly state: WorkerState;
  readonly leader: boolean;
  readonly version: number | undefined;
}

export interface ServiceDeps {
  readonly config: PartiConfig;
  readonly store: KvStore;
  /** The four buckets, opened (or created) once on first use; memoized. */
  buckets(): Promise<PartiBuckets>;
  readonly source: PartitionSource;
  readonly strategy: AssignmentStrategy;
  readonly logger: Logger;
  /** Current status of the worker, for heartbeat values. */
  status(): WorkerStatus;
  /** Lease writes (stable ID, leader key) of this worker: what teardown must wait for and release. */
  readonly writes: WriteLedger;
  /** Wall clock in ms (Date.now by default; injectable for tests). Timers use setTimeout. */
  now(): number;
}
