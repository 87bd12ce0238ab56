/**
 * Input checks and result invariants shared by every strategy: sorted, de-duplicated workers;
 * validated partitions in canonical (Go `Partition.Compare`) order; option checks that throw
 * InvalidConfigError; `checkAssignment` for the result contract.
 * @internal
 */
import {
  InvalidConfigError,
  InvalidPartitionError,
  NoWorkersError,
  StrategyError,
} from '../errors.js';
import { partitionId } from '../types.js';
import type { AssignInput, AssignmentMap, Partition } from '../types.js';
import { comparePartitions, compareUtf8 } from './hash.js';

/**
 * Throws InvalidPartitionError unless `p` has at least one key, every key is a string and the
 * weight is a non-negative safe integer (the Go wire format carries weight as int64).
 */
export function validatePartition(p: Partition, index: number): void {
  const where = `partition #${index}`;
  if (p === null || typeof p !== 'object') throw new InvalidPartitionError(`${where} is not an object`);
  if (!Array.isArray(p.keys) || p.keys.length === 0) {
    throw new InvalidPartitionError(`${where} has no keys`);
  }
  for (const k of p.keys) {
    if (typeof k !== 'string') throw new InvalidPartitionError(`${where} has a non-string key`);
  }
  if (!Number.isSafeInteger(p.weight) || p.weight < 0) {
    throw new InvalidPartitionError(
      `${where} (${partitionId(p)}) weight must be a non-negative integer, got ${String(p.weight)}`,
    );
  }
}

/**
 * Validates every partition and rejects duplicate ids (keys joined with '-', the identity used
 * on the wire). Returns a new array in canonical order (Go `Partition.Compare`).
 */
export function canonicalPartitions(partitions: readonly Partition[]): Partition[] {
  if (!Array.isArray(partitions)) throw new InvalidPartitionError('partitions is not an array');
  const seen = new Set<string>();
  for (let i = 0; i < partitions.length; i++) {
    const p = partitions[i] as Partition;
    validatePartition(p, i);
    const id = partitionId(p);
    if (seen.has(id)) throw new InvalidPartitionError(`duplicate partition id ${JSON.stringify(id)}`);
    seen.add(id);
  }
  const sorted: Partition[] = [...(partitions as readonly Partition[])];
  return sorted.sort(comparePartitions);
}

/** De-duplicated worker IDs in byte-wise (Go) order. Throws NoWorkersError when there are none. */
export function canonicalWorkers(strategy: string, workers: readonly string[]): string[] {
  if (!Array.isArray(workers) || workers.length === 0) throw new NoWorkersError();
  for (const w of workers) {
    if (typeof w !== 'string') throw new StrategyError(strategy, 'worker IDs must be strings');
  }
  return Array.from(new Set<string>(workers)).sort(compareUtf8);
}

/** Canonical inputs every strategy starts from. */
export interface PreparedInput {
  readonly workers: string[];
  readonly partitions: Partition[];
}

export function prepareInput(strategy: string, input: AssignInput): PreparedInput {
  // Workers first: an empty worker list is reported as NoWorkersError even with bad partitions.
  const workers = canonicalWorkers(strategy, input.workers);
  const partitions = canonicalPartitions(input.partitions);
  return { workers, partitions };
}

/** A result map holding every worker (sorted order) with an empty list. */
export function emptyAssignment(workers: readonly string[]): AssignmentMap {
  const out: AssignmentMap = new Map();
  for (const w of workers) out.set(w, []);
  return out;
}

/**
 * Checks the strategy contract on a result: every input worker present and nothing else, every
 * input partition exactly once (by id). Throws StrategyError naming the first violation.
 */
export function checkAssignment(strategy: string, input: AssignInput, result: AssignmentMap): void {
  const workers = new Set(input.workers);
  for (const w of workers) {
    if (!result.has(w)) throw new StrategyError(strategy, `worker ${w} missing from the result`);
  }
  const expected = new Set(input.partitions.map(partitionId));
  const placed = new Set<string>();
  for (const [w, list] of result) {
    if (!workers.has(w)) throw new StrategyError(strategy, `unknown worker ${w} in the result`);
    for (const p of list) {
      const id = partitionId(p);
      if (!expected.has(id)) throw new StrategyError(strategy, `unknown partition ${id} in the result`);
      if (placed.has(id)) throw new StrategyError(strategy, `partition ${id} assigned twice`);
      placed.add(id);
    }
  }
  if (placed.size !== expected.size) {
    throw new StrategyError(strategy, `${expected.size - placed.size} partition(s) not assigned`);
  }
}

/** Option checks. Each throws InvalidConfigError with the dotted field name. */
export function requireInteger(field: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidConfigError(field, `must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

export function requireFinite(field: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new InvalidConfigError(field, `must be a finite number >= ${min}, got ${String(value)}`);
  }
  return value;
}
