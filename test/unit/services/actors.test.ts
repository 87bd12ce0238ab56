/** The services as XState invoked actors: events reach the parent; leaving the state stops all of them. */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { assign, createActor, setup } from 'xstate';
import type { WorkerEvent } from '../../../src/machines/worker.events.js';
import { createAssignmentWatch } from '../../../src/services/assignment-watch.service.js';
import { createConnectionHealth } from '../../../src/services/connection-health.service.js';
import { createElection } from '../../../src/services/election.service.js';
import { createHeartbeat } from '../../../src/services/heartbeat.service.js';
import { createLeaseRenewal } from '../../../src/services/lease-renewal.service.js';
import { encodeAssignment } from '../../../src/wire/assignment.js';
import { waitFor } from '../../harness/wait.js';
import { closeStores, delay, testKv } from './helpers.js';

const opts = (what: string) => ({ timeoutMs: 2_000, intervalMs: 2, what });

void describe('services as actors', () => {
  afterEach(closeStores);

  void it('services - events reach the parent machine; leaving the state stops timers and watches', async () => {
    const kv = await testKv();
    const { deps } = kv;
    const revision = await kv.stableId.create('worker-0', 'claimed');
    await kv.assignment.set('assignment.worker-0', encodeAssignment({ version: 1, lifecycle: 'cold_start', partitions: [], epoch: 1 }));
    const parent = setup({
      types: { context: {} as { seen: string[] }, events: {} as WorkerEvent | { type: 'LEAVE' } },
      actors: {
        leaseRenewal: createLeaseRenewal(deps),
        heartbeat: createHeartbeat(deps),
        election: createElection(deps),
        assignmentWatch: createAssignmentWatch(deps),
        connectionHealth: createConnectionHealth(deps),
      },
    }).createMachine({
      context: { seen: [] },
      initial: 'running',
      on: { '*': { actions: assign({ seen: ({ context, event }) => [...context.seen, event.type] }) } },
      states: {
        running: {
          invoke: [
            { src: 'leaseRenewal', input: { workerId: 'worker-0', revision } },
            { src: 'heartbeat', input: { workerId: 'worker-0' } },
            { src: 'election', input: { workerId: 'worker-0' } },
            { src: 'assignmentWatch', input: { workerId: 'worker-0' } },
            { src: 'connectionHealth', input: {} },
          ],
          on: { LEAVE: 'left' },
        },
        left: {},
      },
    });
    const actor = createActor(parent).start();
    try {
      const has = (t: string) => actor.getSnapshot().context.seen.includes(t);
      await waitFor(
        () => ['leadership.acquired', 'assignment.received', 'lease.renewed', 'leadership.renewed'].every(has),
        opts('events from every service'),
      );
      assert.ok(await kv.heartbeat.peek('heartbeat.worker-0'));
      actor.send({ type: 'LEAVE' });
      assert.equal(kv.election.activeWatches + kv.assignment.activeWatches, 0, 'watches released at once');
      const calls = [kv.stableId, kv.election, kv.heartbeat].map((b) => b.calls.length);
      await delay(250); // more than two renewal periods and many heartbeat intervals
      assert.deepEqual(
        [kv.stableId, kv.election, kv.heartbeat].map((b) => b.calls.length),
        calls,
        'no KV call after the state was left',
      );
      assert.ok(kv.election.calls.every((c) => c.op !== 'delete'), 'leaving does not delete (the teardown does)');
    } finally {
      actor.stop();
    }
  });
});
