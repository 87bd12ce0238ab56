// Leader election on a real nats-server (parti Go manager_leader_election_test.go and
// failure_patterns_test.go SplitBrain, reference §6.2): never two leaders, fast handover on a
// graceful stop (followers watch the leader key and contend on its DEL), takeover after a crash
// within the election timeout, and assignment versions that only grow across leaders.
// Leadership is judged post hoc from each worker's timestamped timeline (state lines of the
// processes, snapshots of the in-process managers), so a pipe's latency cannot fake a split brain.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { waitFor, useSharedNats } from '../harness/index.js';
import { delay, FAST, Group, ManagedWorker, ProcessWorker, within, type GroupWorker } from './support/group.js';

const server = useSharedNats();

/** First time after `since` at which one of `workers` leads, from their timelines. */
function leaderSince(workers: readonly GroupWorker[], since: number): { worker: GroupWorker; t: number } | undefined {
  let best: { worker: GroupWorker; t: number } | undefined;
  for (const w of workers) {
    const e = w.timeline.find((x) => x.t >= since && x.leader && x.state !== 'Shutdown');
    if (e && (!best || e.t < best.t)) best = { worker: w, t: e.t };
  }
  return best;
}

/** Stops a worker gracefully, whatever its kind. */
function stopGracefully(w: GroupWorker): Promise<unknown> {
  if (w instanceof ManagedWorker) return w.stop();
  assert.ok(w instanceof ProcessWorker);
  return w.terminate();
}

describe('election', () => {
  test('election - never two leaders, and a leader at every sample but during a graceful handover, through 10 s of churn', async (t) => {
    await using group = await Group.create({ partitions: 20, buckets: 'default' });
    const p0 = group.spawnWorker();
    await waitFor(() => p0.isLeader, { timeoutMs: 20_000, what: 'p0 leading' });
    group.spawnWorker();
    await group.startManagers(2);
    await group.waitConverged({ timeoutMs: 30_000, what: '4 workers sharing 20 partitions', expectWorkers: 4 });

    const pending: Promise<unknown>[] = [];
    const gracefulLeaderStops: number[] = [];
    const log: string[] = [];
    const follower = (kind: 'manager' | 'process'): GroupWorker | undefined =>
      group.live().find((w) => w.kind === kind && !w.isLeader && w.workerId !== undefined && w.version !== undefined);
    const stopLeader = (): void => {
      const l = group.leaders()[0];
      if (!l) return void log.push('no leader to stop');
      gracefulLeaderStops.push(Date.now());
      log.push(`stop leader ${l.workerId} (${l.kind})`);
      pending.push(stopGracefully(l));
    };
    const killFollowerProcess = (): void => {
      const v = follower('process');
      if (!v) return void log.push('no follower process to kill');
      assert.ok(v instanceof ProcessWorker);
      log.push(`SIGKILL follower ${v.workerId}`);
      pending.push(v.kill());
    };
    const startManager = (): void => {
      log.push('start a manager');
      pending.push(group.addManager().then((m) => m.start()));
    };
    const spawnProcesses = (): void => {
      log.push('spawn 2 processes');
      group.spawnWorker();
      group.spawnWorker();
    };
    const stopFollowerManager = (): void => {
      const v = follower('manager');
      if (!v) return void log.push('no follower manager to stop');
      log.push(`stop follower ${v.workerId}`);
      pending.push(stopGracefully(v));
    };
    // One action every 1.1 s; SIGKILL only hits followers, so a leader is missing only during a graceful handover.
    const actions = [
      killFollowerProcess,
      spawnProcesses,
      stopLeader,
      startManager,
      stopFollowerManager,
      stopLeader,
      killFollowerProcess,
      startManager,
      stopLeader,
    ];

    const churnStart = Date.now();
    const churnEnd = churnStart + 10_000;
    const samples: number[] = [];
    const sampler = (async () => {
      while (Date.now() < churnEnd) {
        samples.push(Date.now());
        await delay(100);
      }
    })();
    for (const [i, act] of actions.entries()) {
      const at = churnStart + 500 + i * 1_100;
      await delay(Math.max(0, at - Date.now()));
      act();
    }
    await sampler;
    await within(Promise.all(pending), 30_000, 'the churn actions (stops, kills, starts)');
    t.diagnostic(`churn: ${log.join('; ')}`);

    // Post hoc, at every sample instant: at most one leader; none only briefly after a graceful leader stop.
    const counts = samples.map((s) => ({ t: s, leaders: group.leadersAt(s) }));
    const split = counts.filter((c) => c.leaders.length > 1);
    assert.deepEqual(split.map((c) => `${c.t - churnStart} ms: ${c.leaders.join(',')}`), [], 'two leaders at once');
    const leaderless = counts.filter((c) => c.leaders.length === 0);
    const unexplained = leaderless.filter((c) => !gracefulLeaderStops.some((s) => c.t >= s && c.t - s < 1_000));
    const gaps = leaderless.map((c) => `${c.t - churnStart} ms`).join(', ');
    t.diagnostic(`${samples.length} samples, ${leaderless.length} without a leader${gaps ? ` (at ${gaps} into the churn)` : ''}`);
    assert.deepEqual(unexplained.map((c) => `${c.t - churnStart} ms`), [], 'no leader outside a graceful handover');

    // And the group settles: exactly one leader, every partition exactly once.
    await group.waitConverged({ timeoutMs: 20_000, what: 'the group after the churn' });
    assert.equal(group.leaders().length, 1);
  });

  test('election - a graceful leader stop hands over to a new leader within 1 s', async (t) => {
    await using group = await Group.create({ partitions: 12, server: server() });
    await group.startManagers(4);
    await group.waitConverged({ timeoutMs: 15_000, what: '4 managers', expectWorkers: 4 });
    const handovers: number[] = [];
    for (let round = 0; round < 3; round++) {
      const old = group.leaders()[0] as ManagedWorker | undefined;
      assert.ok(old, 'a leader');
      const t0 = Date.now();
      const stopped = old.stop();
      const next = await waitFor(() => leaderSince(group.live(), t0), { timeoutMs: 5_000, intervalMs: 10, what: 'a new leader' });
      await within(stopped, 5_000, `stop() of the leader ${old.workerId}`);
      handovers.push(next.t - t0);
      assert.notEqual(next.worker.workerId, old.workerId);
      await group.waitConverged({ timeoutMs: 10_000, what: `the ${3 - round} survivors`, expectWorkers: 3 - round });
    }
    t.diagnostic(`graceful handover (stop() called → new leader): ${handovers.join(', ')} ms`);
    for (const ms of handovers) assert.ok(ms < 1_000, `handover took ${ms} ms`);
  });

  test('election - a crashed leader (SIGKILL) is replaced within electionTimeout + 1 s', async (t) => {
    await using group = await Group.create({ partitions: 12, buckets: 'default' });
    const p0 = group.spawnWorker();
    await waitFor(() => p0.isLeader && p0.version !== undefined, { timeoutMs: 20_000, what: 'the process leading' });
    const followers = await group.startManagers(2);
    await group.waitConverged({ timeoutMs: 15_000, what: '3 workers', expectWorkers: 3 });

    const t0 = Date.now();
    await p0.kill();
    const next = await waitFor(() => leaderSince(followers, t0), {
      timeoutMs: FAST.electionTimeout + 5_000,
      intervalMs: 10,
      what: 'a new leader',
    });
    const ms = next.t - t0;
    t.diagnostic(`leader crash → new leader ${next.worker.workerId} after ${ms} ms (electionTimeout ${FAST.electionTimeout} ms)`);
    assert.ok(ms < FAST.electionTimeout + 1_000, `takeover took ${ms} ms`);
    await group.waitConverged({ timeoutMs: 10_000, what: 'the 2 survivors', expectWorkers: 2 });
    t.diagnostic(`converged ${Date.now() - t0} ms after the kill`);
  });

  test('election - assignment versions strictly increase across leaders', async (t) => {
    await using group = await Group.create({ partitions: 20, buckets: 'default' });
    const p0 = group.spawnWorker();
    await waitFor(() => p0.isLeader && p0.version !== undefined, { timeoutMs: 20_000, what: 'the process leading' });
    const managers = await group.startManagers(3);
    await group.waitConverged({ timeoutMs: 15_000, what: '4 workers', expectWorkers: 4 });

    // Round 1: the leader crashes. Round 2: the next leader stops gracefully.
    const maxBefore1 = Math.max(...group.live().map((w) => w.version ?? 0));
    await p0.kill();
    await group.waitConverged({ timeoutMs: FAST.electionTimeout + 10_000, what: '3 managers after the crash', expectWorkers: 3 });
    const after1 = Math.min(...group.live().map((w) => w.version ?? 0));
    assert.ok(after1 > maxBefore1, `after the crash every survivor holds a version > ${maxBefore1} (min ${after1})`);

    const leader2 = group.leaders()[0] as ManagedWorker;
    const maxBefore2 = Math.max(...group.live().map((w) => w.version ?? 0));
    await within(leader2.stop(), 5_000, 'stop() of the second leader');
    await group.waitConverged({ timeoutMs: 10_000, what: '2 managers after the graceful stop', expectWorkers: 2 });
    const after2 = Math.min(...group.live().map((w) => w.version ?? 0));
    assert.ok(after2 > maxBefore2, `after the stop every survivor holds a version > ${maxBefore2} (min ${after2})`);

    // Every worker saw strictly increasing versions.
    for (const w of group.all()) {
      const versions = w.seen.map((s) => s.version);
      assert.ok(
        versions.every((v, i) => i === 0 || v > versions[i - 1]!),
        `${w.workerId ?? w.label} saw versions ${versions.join(', ')}`,
      );
    }
    // Across leaders: one epoch per version, and a later epoch always publishes higher versions.
    const byVersion = new Map<number, Set<number | undefined>>();
    for (const w of managers) for (const s of w.seen) byVersion.set(s.version, (byVersion.get(s.version) ?? new Set()).add(s.epoch));
    const ordered = [...byVersion].sort(([a], [b]) => a - b);
    for (const [v, epochs] of ordered) assert.equal(epochs.size, 1, `version ${v} published under epochs ${[...epochs].join(', ')}`);
    const epochs = ordered.map(([, e]) => [...e][0]);
    assert.ok(
      epochs.every((e, i) => i === 0 || (e ?? 0) >= (epochs[i - 1] ?? 0)),
      `epochs by version: ${ordered.map(([v, e]) => `v${v}:e${[...e][0]}`).join(' ')}`,
    );
    const leaders = new Set(epochs).size;
    t.diagnostic(`versions by epoch: ${ordered.map(([v, e]) => `v${v}:e${[...e][0]}`).join(' ')}`);
    assert.ok(leaders >= 2, 'the managers saw assignments from at least two leaders');
  });
});
