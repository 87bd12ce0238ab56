/**
 * One publish of the leader: list partitions, place them with the strategy, write
 * `assignment.<id>` for every worker (same version, the leader's epoch), then delete the
 * assignment keys of workers that are no longer in the group (best effort, failures logged).
 *
 * Failures are typed: a throwing source → PartitionSourceError, a throwing strategy or an
 * invalid placement → StrategyError (a PartiError it throws is kept), a failed write → the
 * adapter's PartiError. The signal is checked before each write: a calculator that was stopped
 * (leadership lost) stops writing at once and the promise rejects with AbortError.
 */
import { fromPromise } from 'xstate';
import { AbortError, KvError, PartiError, PartitionSourceError, StrategyError } from '../errors.js';
import type { RebalanceInput, RebalanceOutput } from '../machines/calculator.events.js';
import { partitionId, type AssignmentMap, type AssignmentStrategy, type Partition } from '../types.js';
import { encodeAssignment } from '../wire/assignment.js';
import { ASSIGNMENT_PREFIX, assignmentKey, workerIdOf } from '../wire/keys.js';
import type { ServiceDeps } from './deps.js';

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new AbortError('rebalance aborted', { cause: signal.reason });
}

/**
 * Check a strategy result: exactly the input workers as keys, every partition placed exactly
 * once. Returns it as a plain record; throws StrategyError otherwise.
 */
export function checkPlacement(
  strategy: Pick<AssignmentStrategy, 'name'>,
  workers: readonly string[],
  partitions: readonly Partition[],
  result: AssignmentMap,
): Record<string, readonly Partition[]> {
  const fail = (detail: string): never => {
    throw new StrategyError(strategy.name, detail);
  };
  if (!(result instanceof Map)) fail('result is not a Map');
  const expected = new Map<string, number>();
  for (const p of partitions) expected.set(partitionId(p), (expected.get(partitionId(p)) ?? 0) + 1);
  const out: Record<string, readonly Partition[]> = {};
  for (const w of workers) {
    const list = result.get(w);
    if (!Array.isArray(list)) fail(`worker ${w} is missing from the result`);
    out[w] = list as Partition[];
  }
  for (const w of result.keys()) {
    if (!workers.includes(w)) fail(`result names unknown worker ${w}`);
  }
  for (const list of Object.values(out)) {
    for (const p of list) {
      const id = partitionId(p);
      const left = expected.get(id);
      if (left === undefined) fail(`result contains unknown partition ${id}`);
      if (left === 0) fail(`partition ${id} is assigned more than once`);
      expected.set(id, (left ?? 0) - 1);
    }
  }
  for (const [id, left] of expected) {
    if (left > 0) fail(`partition ${id} is not assigned`);
  }
  return out;
}

export async function rebalance(deps: ServiceDeps, input: RebalanceInput, signal: AbortSignal): Promise<RebalanceOutput> {
  const log = deps.logger.child({ component: 'rebalance', version: input.version, lifecycle: input.lifecycle });
  const { strategy } = deps;
  const { assignment } = await deps.buckets();
  throwIfAborted(signal);

  let partitions: readonly Partition[];
  try {
    partitions = await deps.source.listPartitions(signal);
  } catch (cause) {
    throwIfAborted(signal);
    throw new PartitionSourceError({ cause });
  }
  throwIfAborted(signal);

  const workers = [...new Set(input.workers)].sort();
  let result: AssignmentMap;
  try {
    result = strategy.assign({ workers, partitions, previous: new Map(Object.entries(input.previous)) });
  } catch (err) {
    throw err instanceof PartiError
      ? err
      : new StrategyError(strategy.name, err instanceof Error ? err.message : String(err), { cause: err });
  }
  const assignments = checkPlacement(strategy, workers, partitions, result);

  // Publish: every worker's key, with the same version and the leader's epoch.
  for (const w of workers) {
    throwIfAborted(signal);
    const key = assignmentKey(w);
    const value = encodeAssignment({
      version: input.version,
      lifecycle: input.lifecycle,
      partitions: assignments[w] ?? [],
      epoch: input.epoch,
    });
    try {
      await assignment.put(key, value);
    } catch (err) {
      throw err instanceof PartiError ? err : new KvError(`put ${key}`, { cause: err });
    }
  }

  // Remove assignments of workers that are gone (best effort: a failure only leaves a stale key).
  throwIfAborted(signal);
  let keys: string[] = [];
  try {
    keys = await assignment.keys(`${ASSIGNMENT_PREFIX}*`);
  } catch (err) {
    log.warn({ err }, 'cannot list assignments to remove stale ones');
  }
  for (const key of keys) {
    const w = workerIdOf(key, ASSIGNMENT_PREFIX);
    if (w === undefined || workers.includes(w)) continue;
    throwIfAborted(signal);
    try {
      await assignment.delete(key);
    } catch (err) {
      log.warn({ err, key }, 'cannot remove stale assignment');
    }
  }

  log.info(
    { epoch: input.epoch, workers: workers.length, partitions: partitions.length },
    'assignment published',
  );
  return { version: input.version, assignments };
}

/** Actor logic: `fromPromise`, input RebalanceInput, resolves with RebalanceOutput. */
export function createRebalance(deps: ServiceDeps) {
  return fromPromise<RebalanceOutput, RebalanceInput>(({ input, signal }) => rebalance(deps, input, signal));
}
