// Assignment correctness against a real nats-server (parti Go §6.2 assignment_correctness,
// refresh_partitions and failure_patterns scenarios): exactly-once placement, quiet steady state,
// stickiness across a rolling restart, a thundering-herd restart, a manual refresh after the
// source changed, and a worker that survives a malformed assignment value.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import { createNatsKvStore } from '../../src/adapters/nats-kv.js';
import { MalformedValueError } from '../../src/errors.js';
import { waitFor, useSharedNats } from '../harness/index.js';
import { Group, type Ownership } from './support/group.js';

const server = useSharedNats();

/**
 * Client-side subscriptions other than nats.js's request mux (`_INBOX.<nuid>.*`, created by the
 * first request and kept for the connection's life): what a stopped manager must not leave behind.
 */
function subscriptionsLeft(nc: NatsConnection): string[] {
  const subs = (nc as unknown as { protocol: { subscriptions: { all(): { subject: string }[] } } }).protocol.subscriptions;
  return subs
    .all()
    .map((s) => s.subject)
    .filter((subject) => !/^_INBOX\.[^.]+\.\*$/.test(subject));
}

/** Fraction of partitions whose owner is the same in both maps. */
function sameOwnerFraction(before: Ownership, after: Ownership): number {
  let same = 0;
  for (const [id, owners] of before) if (after.get(id)?.join() === owners.join()) same++;
  return before.size === 0 ? 1 : same / before.size;
}

interface Converged {
  readonly version: number;
  /** Worker ID → partition ids. */
  readonly held: Map<string, readonly string[]>;
  /** Partition id → worker ID (one each). */
  readonly owner: Ownership;
}

/** Waits until the group has converged with everybody Stable under one leader; returns what it holds. */
async function converged(group: Group, timeoutMs: number, what: string): Promise<Converged> {
  const held = await group.waitConverged({ timeoutMs, what, stable: true });
  return { version: group.live()[0]!.version!, held, owner: group.ownership() };
}

void test('assignment - 5 workers started concurrently hold each of 100 partitions exactly once', { timeout: 60_000 }, async () => {
  await using group = await Group.create({ partitions: 100, server: server() });
  await group.startManagers(5, { concurrently: true });
  const { held } = await converged(group, 20_000, '5 workers × 100 partitions');

  const ids = group.live().map((w) => w.workerId).sort();
  assert.deepEqual(ids, ['worker-0', 'worker-1', 'worker-2', 'worker-3', 'worker-4']);
  for (const [w, ps] of held) {
    // parti Go's bound for this scenario; the default (sticky) strategy keeps every worker near 20.
    assert.ok(ps.length >= 10 && ps.length <= 40, `${w} holds ${ps.length} partitions`);
  }

  // Leak check: a stopped manager leaves no subscription (watch, inbox) on its connection.
  const workers = group.liveManagers();
  assert.ok(workers.every((w) => subscriptionsLeft(w.nc).length > 0), 'the probe sees the running watches');
  await Promise.all(workers.map((w) => w.stop()));
  for (const w of workers) {
    let left: string[] = [];
    await waitFor(() => (left = subscriptionsLeft(w.nc)).length === 0, {
      timeoutMs: 5_000,
      what: `no subscriptions left by ${w.workerId ?? '?'}`,
    }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}: ${left.join(', ')}`, { cause: err });
    });
  }
});

void test('assignment - no assignment changes in steady state (3 workers, 50 partitions, 10 s)', { timeout: 60_000 }, async () => {
  await using group = await Group.create({ partitions: 50, server: server() });
  await group.startManagers(3, { concurrently: true });
  const baseline = await converged(group, 20_000, '3 workers × 50');

  // Absence of change over a window: sample until the deadline, fail on the first difference.
  const deadline = Date.now() + 10_000;
  let samples = 0;
  while (Date.now() < deadline) {
    samples++;
    for (const w of group.managers) {
      assert.equal(w.state, 'Stable', `${w.workerId} left Stable after ${samples} samples`);
      assert.equal(w.version, baseline.version, `${w.workerId} got a new version after ${samples} samples`);
    }
    assert.deepEqual(new Map(group.managers.map((w) => [w.workerId, w.partitionIds])), baseline.held);
    await sleep(200);
  }
  assert.ok(samples >= 20, `only ${samples} samples taken`);
});

void test('assignment - a rolling restart keeps at least 80 % of partitions on the same worker ID', { timeout: 90_000 }, async (t) => {
  await using group = await Group.create({ partitions: 64, server: server() });
  await group.startManagers(4, { concurrently: true });
  const initial = await converged(group, 20_000, '4 workers × 64');

  for (const id of ['worker-0', 'worker-1', 'worker-2', 'worker-3']) {
    const leaving = group.liveManagers().find((w) => w.workerId === id);
    assert.ok(leaving, `a live worker ${id}`);
    await leaving.stop();
    const [replacement] = await group.startManagers(1);
    // The lowest free ID is the one just released.
    assert.equal(replacement?.workerId, id, 'the replacement reclaims the released ID');
    await converged(group, 20_000, `after restarting ${id}`);
  }

  const fraction = sameOwnerFraction(initial.owner, group.ownership());
  t.diagnostic(`same owner after the rolling restart: ${(fraction * 100).toFixed(1)} %`);
  assert.ok(fraction >= 0.8, `only ${(fraction * 100).toFixed(1)} % of partitions kept their worker ID`);
});

void test('assignment - a thundering-herd restart of 10 workers converges with every partition once', { timeout: 120_000 }, async (t) => {
  await using group = await Group.create({ partitions: 50, server: server() });
  await group.startManagers(10, { concurrently: true });
  const before = await converged(group, 30_000, '10 workers × 50');

  await Promise.all(group.liveManagers().map((w) => w.stop()));
  assert.equal(group.live().length, 0);
  await group.startManagers(10, { concurrently: true });
  const after = await converged(group, 30_000, '10 restarted workers');

  assert.deepEqual(
    group.live().map((w) => w.workerId).sort(),
    Array.from({ length: 10 }, (_, i) => `worker-${i}`).sort(),
    'the restarted group reuses the released IDs',
  );
  assert.ok(after.version > before.version, `version ${after.version} after ${before.version}`);
  t.diagnostic(`same owner after the herd restart: ${(sameOwnerFraction(before.owner, after.owner) * 100).toFixed(1)} %`);
});

void test('assignment - refreshPartitions on the leader after source.update(50 → 70) assigns all 70 once', { timeout: 60_000 }, async () => {
  await using group = await Group.create({ partitions: 50, server: server() });
  await group.startManagers(3, { concurrently: true });
  const before = await converged(group, 20_000, '3 workers × 50');

  group.setPartitions(70); // source.update() of the managers' shared source
  const follower = group.liveManagers().find((w) => !w.isLeader);
  assert.ok(follower, 'a follower');
  await follower.manager.refreshPartitions(); // a no-op on a follower
  await group.leaderManager().manager.refreshPartitions({ timeoutMs: 10_000 });

  const after = await converged(group, 15_000, '3 workers × 70 after refresh');
  assert.ok(after.version > before.version, `version ${after.version} after ${before.version}`);
  assert.equal(after.owner.size, 70);
});

void test('assignment - a malformed assignment value is reported as MalformedValueError and the worker keeps running', { timeout: 60_000 }, async () => {
  const errors = new Map<string, Error[]>();
  await using group = await Group.create({
    partitions: 20,
    server: server(),
    hooks: (label) => ({
      onError: (e) => {
        errors.set(label, [...(errors.get(label) ?? []), e]);
      },
    }),
  });
  const workers = await group.startManagers(2, { concurrently: true });
  const before = await converged(group, 20_000, '2 workers × 20');
  const follower = workers.find((w) => !w.isLeader);
  assert.ok(follower, 'a follower');
  const id = follower.workerId!;
  const held = follower.manager.assignment;

  // Write garbage into the follower's key, as a foreign or broken writer would.
  const store = await createNatsKvStore(group.admin);
  const bucket = await store.openBucket({ name: group.buckets.assignment, ttlMs: 0, replicas: 1 });
  await bucket.put(`assignment.${id}`, '{not json');

  const reported = await waitFor(
    () => (errors.get(follower.label) ?? []).find((e): e is MalformedValueError => e instanceof MalformedValueError),
    { timeoutMs: 10_000, what: `a MalformedValueError on ${id}` },
  );
  assert.equal(reported.code, 'MALFORMED_VALUE');
  assert.equal(reported.key, `assignment.${id}`);
  // Still serving what it held, in the same state.
  assert.equal(follower.manager.state, 'Stable');
  assert.equal(follower.manager.assignment, held);
  group.checkConverged({ stable: true });

  // And it still follows the leader: the next publish reaches it.
  await group.leaderManager().manager.refreshPartitions({ timeoutMs: 10_000 });
  const after = await converged(group, 15_000, 'after the next publish');
  assert.ok(after.version > before.version, `version ${after.version} after ${before.version}`);
  const others = (errors.get(follower.label) ?? []).filter((e) => !(e instanceof MalformedValueError));
  assert.deepEqual(others, [], 'no other error on the follower');
});
