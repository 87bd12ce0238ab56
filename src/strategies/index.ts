/**
 * Assignment strategies: pure `{ name, version, assign }` values made by factories.
 * `defaultStrategy()` is the one the Manager uses when none is configured.
 */
import type { AssignmentStrategy } from '../types.js';
import { sticky } from './sticky.js';

export { consistentHash, DEFAULT_VIRTUAL_NODES } from './consistent-hash.js';
export type { ConsistentHashOptions, ConsistentHashStrategy } from './consistent-hash.js';
export { weightedConsistentHash } from './weighted-consistent-hash.js';
export type {
  WeightedConsistentHashOptions,
  WeightedConsistentHashStrategy,
} from './weighted-consistent-hash.js';
export { roundRobin } from './round-robin.js';
export { sticky, DEFAULT_BALANCE_FACTOR } from './sticky.js';
export type { StickyOptions, StickyStrategy } from './sticky.js';
export { checkAssignment } from './validate.js';

/**
 * The Manager's default: `sticky()` (balance factor 1.25). On the movement/balance benchmark
 * (bench/README.md) it is the only strategy that moves about the theoretical minimum in every
 * scenario (joins, scale-out, crashes) while keeping max/avg load within the balance factor;
 * the Go-compatible ring moves near the minimum but runs up to ~1.5× the average load.
 */
export function defaultStrategy(): AssignmentStrategy {
  return sticky();
}
