/**
 * The Shutdown teardown: gives back what this worker holds in NATS, in a fixed order, so the
 * others see a graceful leave. (The calculator child is stopped by the machine when it leaves the
 * leader state, before this runs.)
 *   a. delete `heartbeat.<id>` — the leader reads the DEL as a planned departure;
 *   b. release `leader` if (and only if) it holds our value, fenced by its revision;
 *   c. release the stable ID, fenced by the latest revision we wrote.
 * Lease writes still in flight when the worker stopped (a claim, renewal or leader create whose
 * actor was stopped) are awaited first (bounded), so they cannot land after the release.
 * Once a step has timed out (NATS unreachable), the later steps still run but get a short
 * timeout, so stop() takes about one step timeout, not three.
 * Every step runs even if an earlier one failed; each is bounded by a timeout so stop() never
 * hangs while NATS is down. Failures are collected in the output; the promise never rejects.
 * A fenced delete that finds the key at another revision means someone else holds it now: fine.
 */
import { fromPromise } from 'xstate';
import { KvError, PartiError, RevisionMismatchError, TimeoutError } from '../errors.js';
import { LEADER_KEY, heartbeatKey } from '../wire/keys.js';
import type { ServiceDeps, PartiBuckets } from './deps.js';
import { settle } from './timers.js';

export interface TeardownInput {
  /** Undefined when the worker stopped before claiming an ID: nothing to release. */
  readonly workerId: string | undefined;
  /** Revision of the stable-ID key as last claimed or renewed. */
  readonly idRevision: number | undefined;
  /** Whether the machine believed it led. The leader key is checked either way (a create may have been in flight). */
  readonly wasLeader: boolean;
  /** Bound on each step (default 2000 ms). */
  readonly stepTimeoutMs?: number;
}

export interface TeardownOutput {
  readonly errors: readonly Error[];
}

export const TEARDOWN_STEP_TIMEOUT_MS = 2_000;
/** Timeout of the steps after one has timed out: NATS is most likely unreachable. */
const AFTER_TIMEOUT_STEP_MS = 250;

export async function runTeardown(deps: ServiceDeps, input: TeardownInput): Promise<TeardownOutput> {
  const { workerId, idRevision, wasLeader } = input;
  const stepTimeout = input.stepTimeoutMs ?? TEARDOWN_STEP_TIMEOUT_MS;
  const log = deps.logger.child({ component: 'teardown', workerId });
  const errors: Error[] = [];
  // Writes still in flight (a heartbeat, a lease renewal, a leader create) must land before we
  // delete what they write. If they do not settle in time NATS is most likely unreachable: the
  // steps then get the short timeout.
  const drained = await deps.writes.drain(stepTimeout);
  if (workerId === undefined) return { errors };
  let timeoutMs = drained ? stepTimeout : AFTER_TIMEOUT_STEP_MS;

  /** Runs one step within the timeout; a failure is collected (and logged), never thrown. */
  const step = async (name: string, run: (b: PartiBuckets) => Promise<void>, report = true): Promise<void> => {
    const used = timeoutMs;
    const r = await settle(
      deps.buckets().then((b) => run(b)),
      { timeoutMs: used },
    );
    if (r.kind === 'ok') return;
    if (r.kind === 'timeout') timeoutMs = Math.min(timeoutMs, AFTER_TIMEOUT_STEP_MS);
    const error =
      r.kind === 'timeout'
        ? new TimeoutError(`teardown: ${name}`, used)
        : r.error instanceof PartiError
          ? r.error
          : new KvError(`teardown: ${name}`, { cause: r.error });
    if (report) {
      log.warn({ err: error }, `teardown: ${name} failed`);
      errors.push(error);
    } else {
      log.debug({ err: error }, `teardown: ${name} failed (not leader; ignored)`);
    }
  };

  /** A fenced delete; RevisionMismatch means the key is someone else's now, which is fine. */
  const fencedDelete = async (b: PartiBuckets['stableId'], key: string, revision: number): Promise<void> => {
    try {
      await b.delete(key, { revision });
    } catch (err) {
      if (!(err instanceof RevisionMismatchError)) throw err;
      log.info({ key, revision }, 'key moved on since our last write; left alone');
    }
  };

  await step('delete heartbeat', (b) => b.heartbeat.delete(heartbeatKey(workerId)));

  await step(
    'release leadership',
    async (b) => {
      const entry = await b.election.get(LEADER_KEY);
      if (entry === null || !entry.value.startsWith(`${workerId}:`)) return;
      await fencedDelete(b.election, LEADER_KEY, entry.revision);
      log.info({ revision: entry.revision }, 'released leadership');
    },
    wasLeader,
  );

  // A renewal that landed after the machine last heard of one has the newer revision.
  const written = deps.writes.latest(workerId);
  const revision = Math.max(idRevision ?? 0, written ?? 0);
  if (revision > 0) {
    await step('release stable ID', async (b) => {
      await fencedDelete(b.stableId, workerId, revision);
      deps.writes.forget(workerId);
    });
  }

  return { errors };
}

/** Actor logic: `fromPromise`, input TeardownInput, output `{ errors }` (never rejects). */
export function createTeardown(deps: ServiceDeps) {
  return fromPromise<TeardownOutput, TeardownInput>(({ input }) => runTeardown(deps, input));
}
