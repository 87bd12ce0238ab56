// Worker failures on a real nats-server (parti Go failure_nats_test.go, reference §6.2): crashes
// are SIGKILLed `parti-ts worker` processes, joins are in-process managers. Every check waits
// for convergence (same version everywhere, every partition exactly once) against a deadline.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { waitFor, useSharedNats } from '../harness/index.js';
import { delay, FAST, Group, within } from './support/group.js';

const server = useSharedNats();

/** Crash detection budget: heartbeat TTL + grace + a publish, with room for a loaded CI box. */
const CRASH_DEADLINE_MS = FAST.heartbeatTtl + FAST.emergencyGracePeriod + 6_000;

describe('worker failures', () => {
  test('worker failures - a follower process crash (SIGKILL) leaves all 50 partitions to the survivors exactly once', async (t) => {
    // Processes use the default buckets: a server of the group's own.
    await using group = await Group.create({ partitions: 50, buckets: 'default' });
    const p0 = group.spawnWorker();
    await waitFor(() => p0.isLeader && p0.version !== undefined, { timeoutMs: 20_000, what: 'p0 leading with an assignment' });
    const p1 = group.spawnWorker();
    const p2 = group.spawnWorker();
    await group.waitConverged({ timeoutMs: 30_000, what: '3 processes sharing 50 partitions', expectWorkers: 3 });
    assert.equal(p2.isLeader, false, 'p2 is a follower');
    assert.ok((p2.partitionIds?.length ?? 0) > 0, 'the victim holds partitions');

    const killedAt = Date.now();
    await p2.kill();
    const survivors = await group.waitConverged({ timeoutMs: CRASH_DEADLINE_MS, what: 'p0 and p1 holding all 50', expectWorkers: 2 });
    const ms = Date.now() - killedAt;
    t.diagnostic(`follower crash → survivors own all 50 after ${ms} ms`);
    assert.deepEqual([...survivors.keys()].sort(), [p0.workerId, p1.workerId].sort());
    assert.equal(group.leaders().length, 1, 'one leader');
    assert.deepEqual(p0.badLines.concat(p1.badLines, p2.badLines), [], 'stdout is JSON lines only');
  });

  test('worker failures - an expired heartbeat is detected (Emergency) and the survivor owns all 30', async (t) => {
    await using group = await Group.create({ partitions: 30, buckets: 'default' });
    const leader = await group.startManager();
    const victim = group.spawnWorker();
    await group.waitConverged({ timeoutMs: 20_000, what: 'leader and process sharing 30 partitions', expectWorkers: 2 });
    assert.equal(leader.isLeader, true);
    const victimId = victim.workerId!;

    const killedAt = Date.now();
    await victim.kill();
    const owned = await group.waitConverged({ timeoutMs: CRASH_DEADLINE_MS, what: 'the survivor holding all 30', expectWorkers: 1 });
    const ms = Date.now() - killedAt;
    t.diagnostic(`heartbeat expiry → survivor owns all 30 after ${ms} ms`);
    assert.equal(owned.get(leader.workerId!)?.length, 30);
    // A crash, not a graceful leave: the heartbeat expired and the leader went through Emergency.
    assert.equal(leader.manager.assignment?.lifecycle, 'emergency');
    assert.ok(
      leader.timeline.some((e) => e.state === 'Emergency' && e.t > killedAt),
      `leader states after the kill: ${leader.timeline.filter((e) => e.t > killedAt).map((e) => e.state).join(' → ')}`,
    );
    assert.ok(ms >= FAST.heartbeatTtl - FAST.heartbeatInterval, `reassigned after ${ms} ms: sooner than an expiry allows`);
    await waitFor(async () => !(await group.liveKeys(group.buckets.heartbeat)).includes(`heartbeat.${victimId}`), {
      timeoutMs: 2_000,
      what: `heartbeat.${victimId} gone`,
    });
  });

  test('worker failures - scale-up 3 → 4 assigns all partitions once and gives the new worker some', async () => {
    await using group = await Group.create({ partitions: 40, server: server() });
    await group.startManagers(3);
    await group.waitConverged({ timeoutMs: 15_000, what: '3 managers sharing 40 partitions', expectWorkers: 3 });
    const newcomer = await group.startManager();
    const owned = await group.waitConverged({ timeoutMs: 15_000, what: '4 managers sharing 40 partitions', expectWorkers: 4 });
    assert.ok((owned.get(newcomer.workerId!)?.length ?? 0) > 0, 'the new worker holds partitions');
    assert.equal(group.leaders().length, 1);
  });

  test('worker failures - a 3rd worker joining leaves the group stable and the first two keep most of theirs', async (t) => {
    await using group = await Group.create({ partitions: 20, server: server() });
    const [m0, m1] = await group.startManagers(2);
    const before = await group.waitConverged({ timeoutMs: 15_000, what: '2 managers sharing 20 partitions', expectWorkers: 2 });
    const m2 = await group.startManager();
    const afterJoin = await group.waitConverged({ timeoutMs: 15_000, what: '3 managers sharing 20 partitions', expectWorkers: 3 });
    assert.ok((afterJoin.get(m2.workerId!)?.length ?? 0) > 0, 'the new worker holds partitions');
    for (const w of [m0!, m1!]) {
      const had = before.get(w.workerId!) ?? [];
      const kept = (afterJoin.get(w.workerId!) ?? []).filter((id) => had.includes(id));
      t.diagnostic(`${w.workerId}: kept ${kept.length} of ${had.length}`);
      assert.ok(kept.length * 2 >= had.length, `${w.workerId} kept ${kept.length} of ${had.length}`);
    }

    // No churn without a topology change: nothing moves for 2 s (sampled against a deadline).
    const version = m0!.version;
    const until = Date.now() + 2_000;
    while (Date.now() < until) {
      const now = group.checkConverged(3);
      assert.deepEqual(now, afterJoin, 'assignment changed without a topology change');
      assert.equal(m0!.version, version);
      await delay(100);
    }
  });

  test('worker failures - the leader killed during a rebalance: one new leader, all 50 assigned exactly once', async (t) => {
    await using group = await Group.create({ partitions: 50, buckets: 'default' });
    const leader = group.spawnWorker();
    await waitFor(() => leader.isLeader && leader.version !== undefined, { timeoutMs: 20_000, what: 'the process leading' });
    await group.startManagers(2);
    await group.waitConverged({ timeoutMs: 15_000, what: '3 workers sharing 50 partitions', expectWorkers: 3 });
    assert.equal(group.leaders()[0], leader, 'the process leads');

    const joiner = await group.addManager();
    const joined = joiner.start();
    await delay(500);
    const leaderState = leader.state;
    const killedAt = Date.now();
    await leader.kill();
    t.diagnostic(`leader killed in state ${leaderState} (joiner ${joiner.state})`);

    const newLeader = await waitFor(() => (group.leaders().length === 1 ? group.leaders()[0] : undefined), {
      timeoutMs: FAST.electionTimeout + 5_000,
      what: 'one new leader among the survivors',
    });
    t.diagnostic(`new leader ${newLeader.workerId} after ${Date.now() - killedAt} ms`);
    await group.waitConverged({ timeoutMs: 15_000, what: 'the 3 survivors sharing 50 partitions', expectWorkers: 3 });
    t.diagnostic(`converged after ${Date.now() - killedAt} ms`);
    await within(joined, 10_000, "the joiner's start()");
    assert.equal(group.leaders().length, 1, 'exactly one leader');
    assert.notEqual(newLeader.workerId, leader.workerId);
  });
});
