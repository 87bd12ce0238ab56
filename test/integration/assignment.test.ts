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
import { staticSource } from '../../src/sources/static.js';
import { connectTo, waitFor, useSharedNats } from '../harness/index.js';
import {
  convergenceProblems,
  holdings,
  makePartitions,
  ownerOf,
  waitConverged,
  WorkerGroup,
} from './support/assignment-helpers.js';

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
function sameOwnerFraction(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): number {
  let same = 0;
  for (const [id, w] of before) if (after.get(id) === w) same++;
  return before.size === 0 ? 1 : same / before.size;
}

void test('assignment - 5 workers started concurrently hold each of 100 partitions exactly once', { timeout: 60_000 }, async () => {
  const partitions = makePartitions(100);
  await using group = new WorkerGroup(server(), { source: staticSource(partitions) });
  await group.start(5);
  await waitConverged(() => group.managers, partitions, { timeoutMs: 20_000, what: '5 workers × 100 partitions' });

  const ids = group.managers.map((m) => m.workerId).sort();
  assert.deepEqual(ids, ['worker-0', 'worker-1', 'worker-2', 'worker-3', 'worker-4']);
  for (const [w, held] of holdings(group.managers)) {
    // parti Go's bound for this scenario; the default (sticky) strategy keeps every worker near 20.
    assert.ok(held.length >= 10 && held.length <= 40, `${w} holds ${held.length} partitions`);
  }

  // Leak check: a stopped manager leaves no subscription (watch, inbox) on its connection.
  assert.ok(group.live.every((w) => subscriptionsLeft(w.nc).length > 0), 'the probe sees the running watches');
  await Promise.all(group.live.map((w) => w.manager.stop()));
  for (const w of group.live) {
    let left: string[] = [];
    await waitFor(() => (left = subscriptionsLeft(w.nc)).length === 0, {
      timeoutMs: 5_000,
      what: `no subscriptions left by ${w.manager.workerId ?? '?'}`,
    }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}: ${left.join(', ')}`, { cause: err });
    });
  }
});

void test('assignment - no assignment changes in steady state (3 workers, 50 partitions, 10 s)', { timeout: 60_000 }, async () => {
  const partitions = makePartitions(50);
  await using group = new WorkerGroup(server(), { source: staticSource(partitions) });
  await group.start(3);
  const baseline = await waitConverged(() => group.managers, partitions, { timeoutMs: 20_000, what: '3 workers × 50' });
  const baseHoldings = holdings(group.managers);

  // Absence of change over a window: sample until the deadline, fail on the first difference.
  const deadline = Date.now() + 10_000;
  let samples = 0;
  while (Date.now() < deadline) {
    samples++;
    for (const m of group.managers) {
      assert.equal(m.state, 'Stable', `${m.workerId} left Stable after ${samples} samples`);
      assert.equal(m.assignment?.version, baseline.version, `${m.workerId} got a new version after ${samples} samples`);
    }
    assert.deepEqual(holdings(group.managers), baseHoldings);
    await sleep(200);
  }
  assert.ok(samples >= 20, `only ${samples} samples taken`);
});

void test('assignment - a rolling restart keeps at least 80 % of partitions on the same worker ID', { timeout: 90_000 }, async (t) => {
  const partitions = makePartitions(64);
  await using group = new WorkerGroup(server(), { source: staticSource(partitions) });
  await group.start(4);
  const initial = await waitConverged(() => group.managers, partitions, { timeoutMs: 20_000, what: '4 workers × 64' });

  for (const id of ['worker-0', 'worker-1', 'worker-2', 'worker-3']) {
    await group.byId(id).stop();
    const [replacement] = await group.start(1);
    // The lowest free ID is the one just released.
    assert.equal(replacement?.manager.workerId, id, 'the replacement reclaims the released ID');
    await waitConverged(() => group.managers, partitions, { timeoutMs: 20_000, what: `after restarting ${id}` });
  }

  const final = ownerOf(group.managers);
  const fraction = sameOwnerFraction(initial.owner, final);
  t.diagnostic(`same owner after the rolling restart: ${(fraction * 100).toFixed(1)} %`);
  assert.ok(fraction >= 0.8, `only ${(fraction * 100).toFixed(1)} % of partitions kept their worker ID`);
});

void test('assignment - a thundering-herd restart of 10 workers converges with every partition once', { timeout: 120_000 }, async (t) => {
  const partitions = makePartitions(50);
  await using group = new WorkerGroup(server(), { source: staticSource(partitions) });
  await group.start(10);
  const before = await waitConverged(() => group.managers, partitions, { timeoutMs: 30_000, what: '10 workers × 50' });

  await Promise.all([...group.live].map((w) => w.stop()));
  assert.equal(group.live.length, 0);
  await group.start(10);
  const after = await waitConverged(() => group.managers, partitions, { timeoutMs: 30_000, what: '10 restarted workers' });

  assert.deepEqual(
    group.managers.map((m) => m.workerId).sort(),
    Array.from({ length: 10 }, (_, i) => `worker-${i}`).sort(),
    'the restarted group reuses the released IDs',
  );
  assert.ok(after.version > before.version, `version ${after.version} after ${before.version}`);
  t.diagnostic(`same owner after the herd restart: ${(sameOwnerFraction(before.owner, after.owner) * 100).toFixed(1)} %`);
});

void test('assignment - refreshPartitions on the leader after source.update(50 → 70) assigns all 70 once', { timeout: 60_000 }, async () => {
  const source = staticSource(makePartitions(50));
  await using group = new WorkerGroup(server(), { source });
  await group.start(3);
  const before = await waitConverged(() => group.managers, makePartitions(50), { timeoutMs: 20_000, what: '3 workers × 50' });

  const grown = makePartitions(70);
  source.update(grown);
  const follower = group.live.find((w) => !w.manager.isLeader);
  assert.ok(follower, 'a follower');
  await follower.manager.refreshPartitions(); // a no-op on a follower
  await group.leader().manager.refreshPartitions({ timeoutMs: 10_000 });

  const after = await waitConverged(() => group.managers, grown, { timeoutMs: 15_000, what: '3 workers × 70 after refresh' });
  assert.ok(after.version > before.version, `version ${after.version} after ${before.version}`);
  assert.equal(after.owner.size, 70);
});

void test('assignment - a malformed assignment value is reported as MalformedValueError and the worker keeps running', { timeout: 60_000 }, async () => {
  const partitions = makePartitions(20);
  const errors = new Map<number, Error[]>();
  await using group = new WorkerGroup(server(), {
    source: staticSource(partitions),
    hooks: (i) => ({
      onError: (e) => {
        errors.set(i, [...(errors.get(i) ?? []), e]);
      },
    }),
  });
  const workers = await group.start(2);
  const before = await waitConverged(() => group.managers, partitions, { timeoutMs: 20_000, what: '2 workers × 20' });
  const followerIndex = workers.findIndex((w) => !w.manager.isLeader);
  const follower = workers[followerIndex];
  assert.ok(follower, 'a follower');
  const id = follower.manager.workerId!;
  const held = follower.manager.assignment;

  // Write garbage into the follower's key, as a foreign or broken writer would.
  await using nc = await connectTo(server());
  const store = await createNatsKvStore(nc);
  const bucket = await store.openBucket({ name: group.buckets.assignment, ttlMs: 0, replicas: 1 });
  await bucket.put(`assignment.${id}`, '{not json');

  const reported = await waitFor(
    () => (errors.get(followerIndex) ?? []).find((e): e is MalformedValueError => e instanceof MalformedValueError),
    { timeoutMs: 10_000, what: `a MalformedValueError on ${id}` },
  );
  assert.equal(reported.code, 'MALFORMED_VALUE');
  assert.equal(reported.key, `assignment.${id}`);
  // Still serving what it held, in the same state.
  assert.equal(follower.manager.state, 'Stable');
  assert.equal(follower.manager.assignment, held);
  assert.deepEqual(convergenceProblems(group.managers, partitions), []);

  // And it still follows the leader: the next publish reaches it.
  await group.leader().manager.refreshPartitions({ timeoutMs: 10_000 });
  const after = await waitConverged(() => group.managers, partitions, { timeoutMs: 15_000, what: 'after the next publish' });
  assert.ok(after.version > before.version, `version ${after.version} after ${before.version}`);
  const others = (errors.get(followerIndex) ?? []).filter((e) => !(e instanceof MalformedValueError));
  assert.deepEqual(others, [], 'no other error on the follower');
});
