/**
 * `roundRobin()`: partition i (canonical key order) → worker i mod W (byte-wise sorted IDs).
 * Unlike parti Go's RoundRobin, which deals in the order the workers were listed (heartbeat KV
 * order, which changes between rebalances), both lists are sorted first, so the same worker set
 * and partitions always give the same placement. Weights are ignored. Movement on any change is
 * large (most partitions shift by one worker): use it for tests and tiny fixed fleets.
 */
import type { AssignInput, AssignmentMap, AssignmentStrategy } from '../types.js';
import { emptyAssignment, prepareInput } from './validate.js';

export function roundRobin(): AssignmentStrategy {
  const name = 'round-robin';
  return {
    name,
    version: 1,
    assign(input: AssignInput): AssignmentMap {
      const { workers, partitions } = prepareInput(name, input);
      const out = emptyAssignment(workers);
      const buckets = workers.map((w) => out.get(w) ?? []);
      partitions.forEach((p, i) => buckets[i % workers.length]?.push(p));
      return out;
    },
  };
}
