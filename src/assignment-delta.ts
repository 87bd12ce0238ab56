/** True deltas between two partition lists, by partition id. */
import type { Partition } from './types.js';
import { partitionId } from './types.js';

export function diffPartitions(
  before: readonly Partition[],
  after: readonly Partition[],
): { added: Partition[]; removed: Partition[] } {
  const beforeIds = new Set(before.map(partitionId));
  const afterIds = new Set(after.map(partitionId));
  return {
    added: after.filter((p) => !beforeIds.has(partitionId(p))),
    removed: before.filter((p) => !afterIds.has(partitionId(p))),
  };
}
