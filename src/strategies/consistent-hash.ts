/**
 * `consistentHash()`: the parti Go `ConsistentHash` strategy, byte for byte (behaviour spec
 * §1.8.2). Every partition goes to its ring owner; weights are ignored; stateless. A Go leader
 * and a parti-ts leader with the same options place every partition on the same worker.
 */
import { InvalidConfigError } from '../errors.js';
import type { AssignInput, AssignmentMap, AssignmentStrategy } from '../types.js';
import { toU64 } from './hash.js';
import { RingCache } from './ring.js';
import { emptyAssignment, prepareInput, requireInteger } from './validate.js';

export interface ConsistentHashOptions {
  /** Virtual nodes per worker (Go `WithVirtualNodes`). Integer ≥ 1. Default 150. */
  readonly virtualNodes?: number;
  /** Ring seed, uint64 (Go `WithHashSeed`). Default 0. */
  readonly seed?: number | bigint;
}

export interface ConsistentHashStrategy extends AssignmentStrategy {
  readonly options: { readonly virtualNodes: number; readonly seed: bigint };
}

export const DEFAULT_VIRTUAL_NODES = 150;

/** Parses a seed option; throws InvalidConfigError naming `field`. */
export function parseSeed(field: string, seed: number | bigint | undefined): bigint {
  if (seed === undefined) return 0n;
  const s = toU64(seed);
  if (s === undefined) throw new InvalidConfigError(field, `must be an integer in [0, 2^64), got ${String(seed)}`);
  return s;
}

export function consistentHash(options: ConsistentHashOptions = {}): ConsistentHashStrategy {
  const virtualNodes = requireInteger(
    'consistentHash.virtualNodes',
    options.virtualNodes ?? DEFAULT_VIRTUAL_NODES,
    1,
  );
  const seed = parseSeed('consistentHash.seed', options.seed);
  const rings = new RingCache(virtualNodes, seed);
  const name = 'consistent-hash';

  return {
    name,
    version: 1,
    options: { virtualNodes, seed },
    assign(input: AssignInput): AssignmentMap {
      const { workers, partitions } = prepareInput(name, input);
      const out = emptyAssignment(workers);
      if (partitions.length === 0) return out;
      const ring = rings.get(workers);
      const buckets = workers.map((w) => out.get(w) ?? []);
      for (const p of partitions) buckets[ring.ownerOf(p)]?.push(p);
      return out;
    },
  };
}
