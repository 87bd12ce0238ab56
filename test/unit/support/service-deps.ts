/** ServiceDeps for service tests: opened buckets and quiet defaults; each test overrides what it needs. */
import type { KvStore } from '../../../src/adapters/kv-port.js';
import type { PartiConfig } from '../../../src/config.js';
import type { PartiBuckets, ServiceDeps } from '../../../src/services/deps.js';
import { WriteLedger } from '../../../src/services/write-ledger.js';
import { silentLogger } from '../../../src/logger.js';


export function testServiceDeps(
  base: { config: PartiConfig; store: KvStore; buckets: PartiBuckets },
  overrides: Partial<Omit<ServiceDeps, 'config' | 'store' | 'buckets'>> = {},
): ServiceDeps {
  return {
    config: base.config,
    store: base.store,
    buckets: () => Promise.resolve(base.buckets),
    source: { listPartitions: async () => [] },
    strategy: { name: 'none', version: 1, assign: () => new Map() },
    logger: silentLogger,
    status: () => ({ state: 'Stable', leader: false, version: undefined }),
    writes: new WriteLedger(),
    now: () => Date.now(),
    ...overrides,
  };
}
