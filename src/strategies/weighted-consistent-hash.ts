/**
 * `weightedConsistentHash()`: the parti Go `WeightedConsistentHash` two-phase algorithm
 * (behaviour spec §1.8.4). Equal weights → the plain ring (identical to consistentHash).
 * Otherwise partitions heavier than `extremeThreshold` × the average partition are dealt
 * round-robin (weight descending, keys ascending) over the sorted workers, then the rest go to
 * their ring owner unless that would push it past `overloadThreshold` × the average worker load,
 * in which case they go to the lightest worker (lowest sorted index on ties). Options below the
 * Go minimums are clamped to them, as Go does (see `options` for the values in effect).
 */
import { InvalidConfigError } from '../errors.js';
import type { AssignInput, AssignmentMap, AssignmentStrategy, Partition } from '../types.js';
import { parseSeed, DEFAULT_VIRTUAL_NODES } from './consistent-hash.js';
import { comparePartitions } from './hash.js';
import { RingCache } from './ring.js';
import { emptyAssignment, prepareInput, requireFinite, requireInteger } from './validate.js';

export interface WeightedConsistentHashOptions {
  /** Virtual nodes per worker. Default 150; values < 1 are clamped to 1. */
  readonly virtualNodes?: number;
  /** Ring seed, uint64. Default 0. */
  readonly seed?: number | bigint;
  /** Soft cap on a worker's load, as a multiple of the average worker load. Default 1.3, min 1.15. */
  readonly overloadThreshold?: number;
  /** A partition heavier than this multiple of the average partition weight is "extreme". Default 2.0, min 1.5. */
  readonly extremeThreshold?: number;
  /** Weight used for partitions whose weight is 0. Default 1, min 1. */
  readonly defaultWeight?: number;
  /**
   * Order in which phase 2 visits the normal partitions; it matters only when the soft cap
   * re-targets partitions. 'canonical' (default): key order, so the result does not depend on
   * the order of the input (the strategy contract). 'input': the order given, exactly as parti Go
   * does; use it in a mixed Go/parti-ts group whose sources list partitions in the same order, to
   * get the Go placement byte for byte (the golden vectors hold in both modes without a capped
   * partition, and in 'input' mode always).
   */
  readonly order?: 'canonical' | 'input';
}

export interface WeightedConsistentHashStrategy extends AssignmentStrategy {
  readonly options: {
    readonly virtualNodes: number;
    readonly seed: bigint;
    readonly overloadThreshold: number;
    readonly extremeThreshold: number;
    readonly defaultWeight: number;
    readonly order: 'canonical' | 'input';
  };
}

/** Go clamps (parti @0a25524). */
export const WEIGHTED_MIN_OVERLOAD_THRESHOLD = 1.15;
export const WEIGHTED_MIN_EXTREME_THRESHOLD = 1.5;

export function weightedConsistentHash(
  options: WeightedConsistentHashOptions = {},
): WeightedConsistentHashStrategy {
  const f = 'weightedConsistentHash';
  // Type/finiteness errors throw; values below the Go minimum are clamped like Go does.
  const virtualNodes = Math.max(
    1,
    requireInteger(`${f}.virtualNodes`, options.virtualNodes ?? DEFAULT_VIRTUAL_NODES, -Infinity),
  );
  const seed = parseSeed(`${f}.seed`, options.seed);
  const overloadThreshold = Math.max(
    WEIGHTED_MIN_OVERLOAD_THRESHOLD,
    requireFinite(`${f}.overloadThreshold`, options.overloadThreshold ?? 1.3, -Infinity),
  );
  const extremeThreshold = Math.max(
    WEIGHTED_MIN_EXTREME_THRESHOLD,
    requireFinite(`${f}.extremeThreshold`, options.extremeThreshold ?? 2.0, -Infinity),
  );
  const defaultWeight = Math.max(
    1,
    requireInteger(`${f}.defaultWeight`, options.defaultWeight ?? 1, -Infinity),
  );
  const order = options.order ?? 'canonical';
  if (order !== 'canonical' && order !== 'input') {
    throw new InvalidConfigError(`${f}.order`, `must be 'canonical' or 'input', got ${String(order)}`);
  }
  const rings = new RingCache(virtualNodes, seed);
  const name = 'weighted-consistent-hash';
  const weightOf = (p: Partition): number => (p.weight > 0 ? p.weight : defaultWeight);

  return {
    name,
    version: 1,
    options: { virtualNodes, seed, overloadThreshold, extremeThreshold, defaultWeight, order },
    assign(input: AssignInput): AssignmentMap {
      const { workers, partitions } = prepareInput(name, input);
      const out = emptyAssignment(workers);
      if (partitions.length === 0) return out;
      const buckets = workers.map((w) => out.get(w) ?? []);
      const W = workers.length;

      let total = 0;
      let allEqual = true;
      const first = weightOf(partitions[0] as Partition);
      for (const p of partitions) {
        const w = weightOf(p);
        total += w;
        if (w !== first) allEqual = false;
      }

      const ring = rings.get(workers);
      if (allEqual) {
        for (const p of partitions) buckets[ring.ownerOf(p)]?.push(p);
        return out;
      }

      const extremeCutoff = (total / partitions.length) * extremeThreshold;
      const maxWorkerWeight = (total / W) * overloadThreshold;
      const extremes: Partition[] = [];
      const normals: Partition[] = [];
      for (const p of order === 'input' ? input.partitions : partitions) {
        if (extremeCutoff > 0 && weightOf(p) > extremeCutoff) extremes.push(p);
        else normals.push(p);
      }

      const load = new Array<number>(W).fill(0);
      // Phase 1: extremes round-robin, heaviest first, ties by keys.
      extremes.sort((a, b) => weightOf(b) - weightOf(a) || comparePartitions(a, b));
      extremes.forEach((p, i) => {
        const idx = i % W;
        buckets[idx]?.push(p);
        load[idx] = (load[idx] as number) + weightOf(p);
      });

      // Phase 2: normals (canonical or input order) to the ring owner under the soft cap, else the lightest.
      for (const p of normals) {
        const w = weightOf(p);
        let idx = ring.ownerOf(p);
        if (maxWorkerWeight > 0 && (load[idx] as number) + w > maxWorkerWeight) idx = lightest(load);
        buckets[idx]?.push(p);
        load[idx] = (load[idx] as number) + w;
      }
      return out;
    },
  };
}

/** Index of the lowest load; ties → lowest index (Go `findLightestWorkerIndexed`). */
function lightest(load: readonly number[]): number {
  let best = 0;
  let min = load[0] as number;
  for (let i = 1; i < load.length; i++) {
    const l = load[i] as number;
    if (l < min) {
      min = l;
      best = i;
    }
  }
  return best;
}
