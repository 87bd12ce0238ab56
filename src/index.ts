// parti-ts public API. Named re-exports only; `export type` for types.
export { createManager, Manager } from './manager.js';
export type { ManagerOptions, StartOptions, WaitStateOptions } from './manager.js';
export { workerMachine, workerStateOf } from './machines/worker.machine.js';
export type { WorkerContext, WorkerEmitted, WorkerInput, WorkerOutput, WorkerSnapshot } from './machines/worker.machine.js';
export { calculatorMachine } from './machines/calculator.machine.js';
export type { WorkerEvent } from './machines/worker.events.js';
export { provideWorkerServices, provideCalculatorServices } from './services/index.js';
export type { ServiceDeps, PartiBuckets, WorkerStatus } from './services/deps.js';
export { resolveConfig, configSchema, timingPresets } from './config.js';
export type { PartiConfig, PartiConfigInput } from './config.js';
export { staticSource } from './sources/static.js';
export type { StaticSource } from './sources/static.js';
export {
  consistentHash,
  weightedConsistentHash,
  roundRobin,
  sticky,
  defaultStrategy,
} from './strategies/index.js';
export type {
  ConsistentHashOptions,
  WeightedConsistentHashOptions,
  StickyOptions,
} from './strategies/index.js';
export { createNatsKvStore, createMemoryKvStore } from './adapters/index.js';
export type { KvStore, KvBucket, KvEntry, KvWatchEvent, ConnectionStatus } from './adapters/index.js';
export {
  PartiError,
  isPartiError,
  InvalidConfigError,
  AlreadyStartedError,
  NotStartedError,
  AbortError,
  IdPoolExhaustedError,
  LeaseLostError,
  RevisionMismatchError,
  KvUnavailableError,
  KvError,
  MalformedValueError,
  StrategyError,
  NoWorkersError,
  InvalidPartitionError,
  PartitionSourceError,
  HookError,
  TimeoutError,
} from './errors.js';
export type { PartiErrorCode } from './errors.js';
export { partitionId, partitionSubjectKey, WORKER_STATES } from './types.js';
export type {
  Partition,
  Assignment,
  AssignmentChange,
  AssignmentMap,
  AssignmentStrategy,
  AssignInput,
  CalculatorState,
  Hooks,
  Lifecycle,
  Logger,
  PartitionSource,
  StateChange,
  WorkerState,
} from './types.js';
