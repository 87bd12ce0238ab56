/**
 * `staticSource(partitions)`: a PartitionSource over a fixed list (parti Go `source.Static`).
 * The list is validated (InvalidPartitionError: no keys, bad weight, duplicate id) and copied on
 * construction and on `update()`, so later changes to the caller's arrays have no effect.
 * `listPartitions()` returns a fresh array of frozen partitions, in the order given.
 */
import { AbortError } from '../errors.js';
import type { Partition, PartitionSource } from '../types.js';
import { canonicalPartitions } from '../strategies/validate.js';

export interface StaticSource extends PartitionSource {
  /** Replaces the list (validated and copied). The next listPartitions() returns it. */
  update(partitions: readonly Partition[]): void;
}

function freezeCopy(partitions: readonly Partition[]): readonly Partition[] {
  canonicalPartitions(partitions); // validation only; the order given is kept
  return Object.freeze(
    partitions.map((p) => Object.freeze({ keys: Object.freeze([...p.keys]), weight: p.weight })),
  );
}

export function staticSource(partitions: readonly Partition[]): StaticSource {
  let current = freezeCopy(partitions);
  return {
    async listPartitions(signal?: AbortSignal): Promise<readonly Partition[]> {
      if (signal?.aborted === true) throw new AbortError('listPartitions aborted', { cause: signal.reason });
      return current.slice();
    },
    update(next: readonly Partition[]): void {
      current = freezeCopy(next);
    },
  };
}
