// User hooks against a real nats-server: onAssignmentChanged hands out true deltas, onStateChanged
// sees every transition in order, a throwing hook is reported through onError without harming
// the worker, and the hooks of one manager never run concurrently.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HookError } from '../../src/errors.js';
import { partitionId, type AssignmentChange, type Partition, type StateChange, type WorkerState } from '../../src/types.js';
import { waitFor, useSharedNats } from '../harness/index.js';
import { Group, type ManagedWorker } from './support/group.js';

const server = useSharedNats();

const idsOf = (ps: readonly Partition[]): string[] => ps.map(partitionId).sort();

/**
 * Replays a worker's onAssignmentChanged calls from an empty set, checking each call on the way:
 * added ∩ removed = ∅, removed ⊆ held, added ∩ held = ∅, the replay equals `current`, and the
 * version increases. Returns the replayed set (sorted ids).
 */
function replayDeltas(calls: readonly AssignmentChange[], who: string): string[] {
  const held = new Set<string>();
  let previous = Number.NEGATIVE_INFINITY;
  calls.forEach((c, n) => {
    const at = `${who}, call ${n} (version ${c.version})`;
    const added = idsOf(c.added);
    const removed = idsOf(c.removed);
    assert.deepEqual(added.filter((id) => removed.includes(id)), [], `${at}: added ∩ removed`);
    assert.deepEqual(removed.filter((id) => !held.has(id)), [], `${at}: removed but not held`);
    assert.deepEqual(added.filter((id) => held.has(id)), [], `${at}: added but already held`);
    for (const id of removed) held.delete(id);
    for (const id of added) held.add(id);
    assert.deepEqual([...held].sort(), idsOf(c.current), `${at}: replay differs from current`);
    assert.ok(c.version > previous, `${at}: version not above ${previous}`);
    previous = c.version;
  });
  return [...held].sort();
}

void test('hooks - onAssignmentChanged gets true deltas that replay to the current assignment', { timeout: 60_000 }, async () => {
  const calls = new Map<string, AssignmentChange[]>();
  const callsOf = (w: ManagedWorker) => calls.get(w.label) ?? [];
  await using group = await Group.create({
    partitions: 30,
    server: server(),
    hooks: (label) => ({
      onAssignmentChanged: (c) => {
        calls.set(label, [...(calls.get(label) ?? []), c]);
      },
    }),
  });
  // Several publishes per worker: cold start, a join (planned scale), a graceful leave.
  await group.startManagers(3, { concurrently: true });
  await group.waitConverged({ timeoutMs: 20_000, what: '3 workers × 30', stable: true });
  await group.startManagers(1);
  await group.waitConverged({ timeoutMs: 20_000, what: 'after a join', stable: true });
  const leaving = group.liveManagers().find((w) => !w.isLeader);
  assert.ok(leaving, 'a follower');
  await leaving.stop();
  await group.waitConverged({ timeoutMs: 20_000, what: 'after a leave', stable: true });

  // Hooks run after the snapshot that caused them: wait until every live worker's hook caught up.
  await waitFor(() => group.liveManagers().every((w) => callsOf(w).at(-1)?.version === w.manager.assignment?.version), {
    timeoutMs: 5_000,
    what: 'the hooks to reach the current version',
  });

  replayDeltas(callsOf(leaving), `${leaving.label} (left)`);
  for (const w of group.liveManagers()) {
    const who = w.manager.workerId!;
    const replayed = replayDeltas(callsOf(w), who);
    assert.deepEqual(replayed, idsOf(w.manager.assignment!.partitions), `${who}: replay differs from the final assignment`);
  }
  // The join and the leave moved partitions, so some calls carried removals and additions after the first.
  const later = [...calls.values()].flatMap((cs) => cs.slice(1));
  assert.ok(later.some((c) => c.added.length > 0 || c.removed.length > 0), 'no delta after the first assignment');
});

void test('hooks - onStateChanged sees every transition in state$ order, from Init→Claiming to Shutdown', { timeout: 60_000 }, async (t) => {
  const changes = new Map<string, StateChange[]>();
  const observed = new Map<string, WorkerState[]>();
  await using group = await Group.create({
    partitions: 12,
    server: server(),
    hooks: (label) => ({
      onStateChanged: (c) => {
        changes.set(label, [...(changes.get(label) ?? []), c]);
      },
    }),
  });
  const startObserved = async (n: number) => {
    const ws = await Promise.all(Array.from({ length: n }, () => group.addManager()));
    for (const w of ws) {
      w.manager.state$.subscribe((s) => observed.set(w.label, [...(observed.get(w.label) ?? []), s]));
    }
    await Promise.all(ws.map((w) => w.start()));
    return ws;
  };
  // A join makes the leader go through its planned-scale window: more than the start path.
  const workers = await startObserved(2);
  await group.waitConverged({ timeoutMs: 20_000, what: '2 workers', stable: true });
  workers.push(...(await startObserved(1)));
  await group.waitConverged({ timeoutMs: 20_000, what: 'after a join', stable: true });
  // stop() resolves after the hooks queued so far have run.
  await Promise.all(workers.map((w) => w.stop()));

  for (const w of workers) {
    const seen = changes.get(w.label) ?? [];
    const states = observed.get(w.label) ?? [];
    t.diagnostic(`worker ${w.label}: ${states.join(' → ')}`);
    assert.deepEqual(seen[0], { from: 'Init', to: 'Claiming' }, `worker ${w.label}: first change`);
    seen.forEach((c, k) => {
      if (k > 0) assert.equal(c.from, seen[k - 1]!.to, `worker ${w.label}, change ${k}: from ≠ previous to`);
      assert.notEqual(c.from, c.to, `worker ${w.label}, change ${k}: not a change`);
    });
    assert.deepEqual(['Init', ...seen.map((c) => c.to)], states, `worker ${w.label}: hooks and state$ disagree`);
    assert.equal(seen.at(-1)?.to, 'Shutdown', `worker ${w.label}: last change`);
    assert.ok(states.includes('Stable'), `worker ${w.label} never Stable`);
  }
});

void test('hooks - a throwing onAssignmentChanged reaches onError as a HookError and the worker stays Stable', { timeout: 60_000 }, async () => {
  const errors: Error[] = [];
  let thrown = 0;
  await using group = await Group.create({ partitions: 20, server: server() });
  const faulty = await group.addManager({
    hooks: {
      onAssignmentChanged: () => {
        thrown++;
        throw new Error('boom');
      },
      onError: (e) => {
        errors.push(e);
      },
    },
  });
  const other = await group.addManager();
  await Promise.all([faulty.start(), other.start()]);
  await group.waitConverged({ timeoutMs: 20_000, what: '2 workers × 20', stable: true });

  const first = await waitFor(() => errors.find((e): e is HookError => e instanceof HookError), {
    timeoutMs: 5_000,
    what: 'a HookError through onError',
  });
  assert.equal(first.code, 'HOOK_FAILED');
  assert.equal(first.hook, 'onAssignmentChanged');
  assert.ok(first.cause instanceof Error && first.cause.message === 'boom', 'the thrown error is the cause');
  assert.equal(faulty.manager.state, 'Stable');

  // The worker keeps following the group and keeps calling the hook.
  group.setPartitions(26);
  await group.leaderManager().manager.refreshPartitions({ timeoutMs: 10_000 });
  await group.waitConverged({ timeoutMs: 15_000, what: 'after a refresh to 26', stable: true });
  await waitFor(() => errors.filter((e) => e instanceof HookError).length >= 2 && thrown >= 2, {
    timeoutMs: 5_000,
    what: 'the hook to fail again on the next change',
  });
  assert.equal(faulty.manager.state, 'Stable');
  assert.equal(errors.filter((e) => e instanceof HookError).length, thrown, 'one HookError per throw');
  assert.deepEqual(errors.filter((e) => !(e instanceof HookError)), [], 'no other error');
});

void test('hooks - the hooks of one manager never run concurrently', { timeout: 60_000 }, async () => {
  const counters = new Map<string, { inFlight: number; max: number; calls: number }>();
  await using group = await Group.create({
    partitions: 24,
    server: server(),
    hooks: (label) => {
      const c = { inFlight: 0, max: 0, calls: 0 };
      counters.set(label, c);
      const slow = async () => {
        c.inFlight++;
        c.calls++;
        c.max = Math.max(c.max, c.inFlight);
        await sleep(50);
        c.inFlight--;
      };
      return { onAssignmentChanged: slow, onStateChanged: slow, onError: slow };
    },
  });
  // Bursts of events: concurrent starts, a join, a refresh, then stop.
  await group.startManagers(2, { concurrently: true });
  await group.waitConverged({ timeoutMs: 20_000, what: '2 workers', stable: true });
  await group.startManagers(1);
  await group.waitConverged({ timeoutMs: 20_000, what: 'after a join', stable: true });
  group.setPartitions(30);
  await group.leaderManager().manager.refreshPartitions({ timeoutMs: 10_000 });
  await group.waitConverged({ timeoutMs: 15_000, what: 'after a refresh', stable: true });
  await Promise.all(group.liveManagers().map((w) => w.stop()));

  assert.equal(counters.size, 3);
  for (const [i, c] of counters) {
    assert.equal(c.inFlight, 0, `worker ${i}: a hook still running after stop()`);
    assert.equal(c.max, 1, `worker ${i}: ${c.max} hooks ran at once`);
    // Init→Claiming→Election→…→Stable→…→Shutdown plus at least two assignments.
    assert.ok(c.calls >= 6, `worker ${i}: only ${c.calls} hook calls`);
  }
});
