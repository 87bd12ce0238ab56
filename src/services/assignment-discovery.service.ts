/**
 * What a new leader finds in the assignment bucket: the highest version (the next publish uses
 * max + 1, so versions keep increasing across leaders) and each worker's current partitions (the
 * `previous` assignment for sticky strategies). A malformed value is logged with its key and
 * skipped; a failing listing or read rejects, and the calculator retries: a leader that guessed
 * the version could publish one that followers ignore.
 */
import { fromPromise } from 'xstate';
import { AbortError, KvError, PartiError } from '../errors.js';
import type { DiscoveredAssignments } from '../machines/calculator.events.js';
import type { Partition } from '../types.js';
import { decodeAssignment } from '../wire/assignment.js';
import { ASSIGNMENT_PREFIX, workerIdOf } from '../wire/keys.js';
import type { ServiceDeps } from './deps.js';

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new AbortError('assignment discovery aborted', { cause: signal.reason });
}

function asPartiError(err: unknown, operation: string): PartiError {
  return err instanceof PartiError ? err : new KvError(operation, { cause: err });
}

export async function discoverAssignments(deps: ServiceDeps, signal: AbortSignal): Promise<DiscoveredAssignments> {
  const log = deps.logger.child({ component: 'assignment-discovery' });
  const { assignment } = await deps.buckets();
  throwIfAborted(signal);
  let keys: string[];
  try {
    keys = await assignment.keys(`${ASSIGNMENT_PREFIX}*`);
  } catch (err) {
    throw asPartiError(err, 'list assignments');
  }
  throwIfAborted(signal);

  const found = await Promise.all(
    keys.map(async (key) => {
      const workerId = workerIdOf(key, ASSIGNMENT_PREFIX);
      if (workerId === undefined) return undefined;
      let entry;
      try {
        entry = await assignment.get(key);
      } catch (err) {
        throw asPartiError(err, `get ${key}`);
      }
      if (entry === null) return undefined; // deleted since the listing
      try {
        return { workerId, assignment: decodeAssignment(key, entry.value) };
      } catch (err) {
        log.warn({ err, key }, 'skipping malformed assignment');
        return undefined;
      }
    }),
  );
  throwIfAborted(signal);

  let maxVersion = 0;
  const previous: Record<string, readonly Partition[]> = {};
  for (const f of found) {
    if (f === undefined) continue;
    maxVersion = Math.max(maxVersion, f.assignment.version);
    previous[f.workerId] = f.assignment.partitions;
  }
  log.debug({ maxVersion, workers: Object.keys(previous).length }, 'discovered assignments');
  return { maxVersion, previous };
}

/** Actor logic: `fromPromise`, no input, resolves with DiscoveredAssignments. */
export function createAssignmentDiscovery(deps: ServiceDeps) {
  return fromPromise<DiscoveredAssignments>(({ signal }) => discoverAssignments(deps, signal));
}
