// Concurrent and interrupted lifecycle calls on a real nats-server (parti Go
// failure_error_handling_test.go, reference §6.2, and DESIGN.md §2: STOP and ABORT are accepted in
// every state): concurrent start()/stop(), stop() during a transition, aborted starts, and stop()
// from every state a worker can reach, each resolving within a deadline and leaving none of the
// worker's keys behind (heartbeat, stable ID, leader key) when NATS is reachable.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Kvm } from '@nats-io/kv';
import { AbortError, AlreadyStartedError, NotStartedError } from '../../src/errors.js';
import type { WorkerState } from '../../src/types.js';
import { startTcpProxy, waitFor, useSharedNats } from '../harness/index.js';
import { FAST, GatedSource, Group, within, type ManagedWorker } from './support/group.js';

const server = useSharedNats();

/** Deadline for a graceful stop while NATS is reachable. */
const STOP_DEADLINE_MS = 5_000;

/** Every state$ value of a worker, in order. */
function recordStates(w: ManagedWorker): WorkerState[] {
  const seen: WorkerState[] = [];
  w.manager.state$.subscribe((s) => seen.push(s));
  return seen;
}

/**
 * Calls stop() synchronously as soon as the worker enters `state` (inside the state$ callback,
 * so the worker cannot have left it). Resolves (once it is called) with the stop() promise, boxed
 * so that awaiting this does not wait for the stop.
 */
function stopOnEntering(w: ManagedWorker, state: WorkerState): Promise<{ stopped: Promise<void> }> {
  return new Promise((resolve) => {
    const sub = w.manager.state$.subscribe((s) => {
      if (s !== state) return;
      resolve({ stopped: w.stop() });
      queueMicrotask(() => sub.unsubscribe());
    });
  });
}

/** stop() resolves within the deadline, the worker ends in Shutdown and its keys are gone (and stay gone). */
async function assertCleanStop(group: Group, w: ManagedWorker, stopped: Promise<void>, workerId = w.workerId): Promise<number> {
  const t0 = Date.now();
  await within(stopped, STOP_DEADLINE_MS, `stop() of ${w.label}`);
  const ms = Date.now() - t0;
  assert.equal(w.manager.state, 'Shutdown');
  if (workerId === undefined) {
    await group.assertStaysEmpty(() => group.allLiveKeys(), `keys left by ${w.label} (no ID claimed)`);
  } else {
    await group.assertStaysEmpty(() => group.keysOf(workerId), `keys of ${workerId} after stop()`);
  }
  return ms;
}

describe('concurrency', () => {
  test('concurrency - 10 concurrent start() calls: one resolves, nine reject with AlreadyStartedError', async () => {
    await using group = await Group.create({ partitions: 10, server: server() });
    const w = await group.addManager();
    // Ten calls in the same tick: the first through the group (so that cleanup knows it), nine direct.
    const calls = [w.start(), ...Array.from({ length: 9 }, () => w.manager.start())];
    const results = await within(Promise.allSettled(calls), 15_000, 'the 10 start() calls');
    const ok = results.filter((r) => r.status === 'fulfilled');
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(ok.length, 1, 'exactly one start() resolves');
    assert.equal(rejected.length, 9);
    for (const r of rejected) assert.ok(r.reason instanceof AlreadyStartedError, `rejected with ${String(r.reason)}`);
    assert.equal(results[0]?.status, 'fulfilled', 'the first call is the one that runs');
    assert.match(w.workerId ?? '', /^worker-\d+$/);
  });

  test('concurrency - 10 concurrent stop() calls all resolve with one shutdown', async () => {
    await using group = await Group.create({ partitions: 10, server: server() });
    const w = await group.startManager();
    await w.manager.waitState('Stable', { timeoutMs: 10_000 });
    const id = w.workerId!;
    const states = recordStates(w);
    let completed = false;
    w.manager.state$.subscribe({ complete: () => (completed = true) });
    const stops = Array.from({ length: 10 }, () => w.manager.stop());
    await within(Promise.all(stops), STOP_DEADLINE_MS, 'the 10 stop() calls');
    assert.ok(stops.every((p) => p === stops[0]), 'every caller shares one shutdown');
    assert.equal(states.filter((s) => s === 'Shutdown').length, 1, `states: ${states.join(' → ')}`);
    assert.ok(completed, 'state$ completed');
    await group.assertStaysEmpty(() => group.keysOf(id), `keys of ${id}`);
  });

  test('concurrency - stop() during a state transition (a 3rd worker joining) resolves cleanly', async (t) => {
    await using group = await Group.create({ partitions: 100, server: server() });
    const [w0] = await group.startManagers(2);
    await group.waitConverged({ timeoutMs: 15_000, what: '2 managers', expectWorkers: 2 });
    const w2 = await group.addManager();
    const joined = w2.start();
    await new Promise((r) => setTimeout(r, 200));
    t.diagnostic(`stopping ${w0!.workerId} (leader: ${w0!.isLeader}) in state ${w0!.state}; joiner in ${w2.state}`);
    const ms = await assertCleanStop(group, w0!, w0!.stop());
    t.diagnostic(`stop() took ${ms} ms`);
    await within(joined, 15_000, "the joiner's start()");
    await group.waitConverged({ timeoutMs: 15_000, what: 'the 2 remaining managers', expectWorkers: 2 });
  });

  test('concurrency - start() with an aborted signal rejects with AbortError within 1 s and leaves no keys', async () => {
    await using group = await Group.create({ partitions: 10, server: server() });
    const w = await group.addManager();
    const t0 = Date.now();
    await within(
      assert.rejects(w.start(AbortSignal.abort(new Error('cancelled by the test'))), AbortError),
      1_000,
      'start() with an aborted signal',
    );
    assert.ok(Date.now() - t0 < 1_000);
    await group.assertStaysEmpty(() => group.allLiveKeys(), 'keys after an aborted start');
    // The worker never ran; stop() still has to resolve (it is documented to never hang or reject).
    await within(w.stop(), STOP_DEADLINE_MS, 'stop() after the rejected start');
  });

  for (const state of ['Claiming', 'Election'] as const) {
    test(`concurrency - start() aborted in ${state} rejects with AbortError and leaves no keys`, async () => {
      await using group = await Group.create({ partitions: 10, server: server() });
      const w = await group.addManager();
      const ac = new AbortController();
      const sub = w.manager.state$.subscribe((s) => {
        if (s === state) ac.abort(new Error(`aborted in ${state}`));
      });
      try {
        await within(assert.rejects(w.start(ac.signal), AbortError), 5_000, `start() aborted in ${state}`);
      } finally {
        sub.unsubscribe();
      }
      assert.ok(ac.signal.aborted, `the worker went through ${state}`);
      assert.equal(w.manager.state, 'Shutdown');
      await group.assertStaysEmpty(() => group.allLiveKeys(), `keys after a start aborted in ${state}`);
      await within(w.stop(), STOP_DEADLINE_MS, 'stop() after the aborted start');
    });
  }

  test('concurrency - start() aborted at any moment of its first 60 ms leaves no ID, heartbeat or leader key', async (t) => {
    await using group = await Group.create({ partitions: 10, server: server() });
    const { stableId, heartbeat, election } = group.buckets;
    const held = async () => [
      ...(await group.liveKeys(stableId)),
      ...(await group.liveKeys(heartbeat)),
      ...(await group.liveKeys(election)),
    ];
    const outcomes: string[] = [];
    const failures: string[] = []; // collected, so that one failure does not hide the others
    for (let ms = 0; ms <= 60; ms += 4) {
      const w = await group.addManager({ label: `abort-${ms}` });
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(new Error(`aborted after ${ms} ms`)), ms);
      const outcome = await w.start(ac.signal).then(
        () => 'started',
        (err: unknown) => (err instanceof AbortError ? 'aborted' : `failed: ${String(err)}`),
      );
      clearTimeout(timer);
      if (outcome !== 'started' && outcome !== 'aborted') failures.push(`${ms} ms: start() ${outcome}`);
      outcomes.push(`${ms}:${outcome === 'aborted' ? (w.timeline.at(-2)?.state ?? 'Init') : 'started'}`);
      try {
        await within(w.stop(), STOP_DEADLINE_MS, 'stop()');
        await group.assertStaysEmpty(held, 'keys', 150);
      } catch (err) {
        failures.push(`${ms} ms (${outcomes.at(-1)}): ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    t.diagnostic(`abort delay:last state before Shutdown → ${outcomes.join(' ')}`);
    assert.deepEqual(failures, [], 'starts aborted at some moments did not end cleanly');
  });

  describe('stop() from every state', () => {
    test('concurrency - stop() in Init (never started) resolves, and start() afterwards rejects', async () => {
      await using group = await Group.create({ partitions: 10, server: server() });
      const w = await group.addManager();
      await within(w.manager.stop(), 1_000, 'stop() before start()');
      await assert.rejects(w.manager.start(), NotStartedError);
      await group.assertStaysEmpty(() => group.allLiveKeys(), 'keys after stop() in Init');
    });

    for (const state of ['Claiming', 'Election'] as const) {
      test(`concurrency - stop() in ${state} resolves, start() rejects with AbortError, no keys left`, async () => {
        await using group = await Group.create({ partitions: 10, server: server() });
        const w = await group.addManager();
        const stopping = stopOnEntering(w, state);
        const started = w.start();
        const { stopped } = await within(stopping, 5_000, `the worker entering ${state}`);
        await within(assert.rejects(started, AbortError), STOP_DEADLINE_MS, 'start() rejecting');
        await assertCleanStop(group, w, stopped, undefined);
      });
    }

    test('concurrency - stop() 0–2 ms after entering Election (leader create in flight) leaves no leader key', async (t) => {
      await using group = await Group.create({ partitions: 10, server: server() });
      const failures: string[] = [];
      let runs = 0;
      for (let i = 0; i < 12 && failures.length === 0; i++, runs++) {
        const w = await group.addManager({ label: `elect-${i}` });
        const entered = w.manager.waitState('Election', { timeoutMs: 5_000 });
        const started = w.start();
        await entered;
        await new Promise((r) => setTimeout(r, i % 3));
        const id = w.workerId;
        assert.ok(id);
        const stateAtStop = w.state;
        try {
          await assertCleanStop(group, w, w.stop(), id);
        } catch (err) {
          failures.push(`run ${i} (stopped in ${stateAtStop}): ${err instanceof Error ? err.message : String(err)}`);
        }
        await started.catch(() => undefined);
      }
      t.diagnostic(`${runs} runs`);
      assert.deepEqual(failures, [], 'a stop during the leader create left the key behind');
    });

    test('concurrency - stop() in WaitingAssignment (the leader never publishes) resolves and leaves no keys', async () => {
      await using group = await Group.create({ partitions: 10, server: server() });
      // A leader that never publishes: its key sits in a bucket this test creates with a long TTL.
      const election = await new Kvm(group.admin).create(group.buckets.election, { ttl: 60_000, history: 1 });
      await election.put('leader', 'ghost-0:1');
      const w = await group.addManager();
      const started = w.start();
      await w.manager.waitState('WaitingAssignment', { timeoutMs: 5_000 });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(w.manager.state, 'WaitingAssignment');
      const id = w.workerId;
      assert.ok(id);
      await assertCleanStop(group, w, w.stop(), id);
      await assert.rejects(started, AbortError);
      assert.equal((await election.get('leader'))?.string(), 'ghost-0:1', "the ghost's leader key is left alone");
    });

    test('concurrency - stop() in Stable resolves and releases the ID, heartbeat and leadership', async () => {
      await using group = await Group.create({ partitions: 10, server: server() });
      const w = await group.startManager();
      await w.manager.waitState('Stable', { timeoutMs: 10_000 });
      assert.deepEqual((await group.keysOf(w.workerId!)).sort(), ['election/leader', `heartbeat/heartbeat.${w.workerId}`, `stableId/${w.workerId}`].sort());
      await assertCleanStop(group, w, w.stop());
    });

    test('concurrency - stop() in Scaling (a long planned window while a 2nd worker joins) resolves cleanly', async () => {
      await using group = await Group.create({
        partitions: 10,
        server: server(),
        config: { coldStartWindow: 10_000, plannedScaleWindow: 10_000 },
      });
      const leader = await group.startManager();
      const joiner = await group.addManager();
      const joined = joiner.start();
      await waitFor(() => joiner.state === 'WaitingAssignment' && leader.state === 'Scaling', {
        timeoutMs: 5_000,
        what: 'the leader Scaling while the joiner waits',
      });
      await assertCleanStop(group, leader, leader.stop());
      // The joiner takes over and publishes at once (a new leader's immediate publish).
      await within(joined, 10_000, "the joiner's start() after the leader left");
      assert.equal(joiner.isLeader, true);
    });

    test('concurrency - stop() in Rebalancing (the source hangs) resolves cleanly', async () => {
      await using group = await Group.create({ partitions: 10, server: server() });
      const source = new GatedSource(group.partitionList, true);
      const w = await group.addManager({ source });
      await w.start(); // the immediate publish used the source once
      source.block(); // the cold-start-final publish hangs
      await waitFor(() => source.blockedCalls > 0 && w.state === 'Rebalancing', {
        timeoutMs: FAST.coldStartWindow + 5_000,
        what: 'the leader Rebalancing on a hanging source',
      });
      await assertCleanStop(group, w, w.stop());
    });

    test('concurrency - stop() in Emergency (the source hangs and ignores its signal) resolves cleanly', async () => {
      await using group = await Group.create({ partitions: 10, server: server() });
      const source = new GatedSource(group.partitionList, false);
      const w = await group.startManager({ source });
      await w.manager.waitState('Stable', { timeoutMs: 10_000 });
      // A worker that joins and then crashes: its heartbeat, written by the test, stops being renewed.
      const hb = await new Kvm(group.admin).open(group.buckets.heartbeat);
      const beat = () => hb.put('heartbeat.ghost-1', JSON.stringify({ ts: Date.now(), state: 'Stable', leader: false }));
      await beat();
      const ghostAssigned = await waitFor(
        async () => {
          await beat();
          return (await group.liveKeys(group.buckets.assignment)).includes('assignment.ghost-1');
        },
        { timeoutMs: 10_000, intervalMs: 250, what: 'the ghost worker assigned' },
      );
      assert.ok(ghostAssigned);
      source.block();
      await waitFor(() => w.state === 'Emergency' && source.blockedCalls > 0, {
        timeoutMs: FAST.heartbeatTtl + FAST.emergencyGracePeriod + 5_000,
        what: 'the leader in Emergency on a hanging source',
      });
      await assertCleanStop(group, w, w.stop());
    });

    test('concurrency - stop() in Degraded (NATS unreachable) resolves within the teardown bound', async (t) => {
      await using group = await Group.create({
        partitions: 10,
        server: server(),
        config: { degraded: { enterThreshold: 300, exitThreshold: 300, recoveryGracePeriod: 1_000 } },
      });
      await using proxy = await startTcpProxy({ port: group.server.port });
      const w = await group.startManager({ url: proxy.url });
      await w.manager.waitState('Stable', { timeoutMs: 10_000 });
      proxy.cut();
      await w.manager.waitState('Degraded', { timeoutMs: 5_000 });
      const t0 = Date.now();
      // Nothing answers: one 2 s teardown step, then short ones for the rest.
      await within(w.stop(), 10_000, 'stop() in Degraded');
      t.diagnostic(`stop() in Degraded took ${Date.now() - t0} ms`);
      assert.equal(w.manager.state, 'Shutdown');
    });
  });
});
