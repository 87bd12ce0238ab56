// The KV port and its implementations (named exports only).
export type {
  ConnectionStatus,
  KvBucket,
  KvBucketSpec,
  KvEntry,
  KvOperation,
  KvStore,
  KvWatchEvent,
  KvWatchOptions,
  ServerFeatures,
} from './kv-port.js';
export { createNatsKvStore } from './nats-kv.js';
export type { NatsKvStoreOptions } from './nats-kv.js';
export type { WatchBackoff } from './nats-watch.js';
export { createMemoryKvStore, MemoryKvStore, realClock } from './memory-kv.js';
export type { MemoryKvClock, MemoryKvStoreOptions } from './memory-kv.js';
export { serverFeatures, parseServerVersion, versionAtLeast } from './server-features.js';
export { toPartiError } from './nats-errors.js';
export { connectionStatus$ } from './nats-status.js';
export { keyMatches, isValidKey, isValidFilter } from './key-pattern.js';
export { silentLogger } from '../logger.js';
