// Degraded mode against a real nats-server: a worker whose connection is cut (a TCP proxy between
// it and the server) enters Degraded, keeps serving what it owns, and rejoins when NATS is back.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { WorkerState } from '../../src/types.js';
import { startTcpProxy, useSharedNats, waitFor } from '../harness/index.js';
import { Group } from './support/group.js';

const server = useSharedNats();
const SERVING: readonly WorkerState[] = ['Stable', 'Scaling', 'Rebalancing', 'Emergency'];
const degraded = { enterThreshold: 200, exitThreshold: 200, recoveryGracePeriod: 2_000 };

void describe('degraded', () => {
  test('degraded - a worker cut off from NATS enters Degraded, keeps its partitions, and serves again when NATS returns', async () => {
    await using group = await Group.create({ partitions: 20, server: server(), config: { degraded } });
    await using proxy = await startTcpProxy({ port: group.server.port });
    await group.startManager({ label: 'direct' });
    const cut = await group.startManager({ url: proxy.url, label: 'behind-proxy' });
    const before = await group.waitConverged({ timeoutMs: 10_000, what: 'two workers converged', expectWorkers: 2 });
    const held = before.get(cut.workerId!);
    assert.ok(held && held.length > 0, 'the worker behind the proxy holds partitions');

    proxy.cut();
    await cut.manager.waitState('Degraded', { timeoutMs: 5_000 });
    assert.deepEqual(cut.partitionIds, held, 'the assignment is kept while degraded');

    proxy.restore();
    await waitFor(() => SERVING.includes(cut.manager.state), { timeoutMs: 10_000, what: 'serving again after the outage' });
    await group.waitConverged({ timeoutMs: 10_000, what: 'converged after the outage', expectWorkers: 2 });
  });

  test('degraded - after an outage longer than the heartbeat TTL the group reassigns, then converges exactly once when the worker returns', async () => {
    await using group = await Group.create({ partitions: 20, server: server(), config: { degraded } });
    await using proxy = await startTcpProxy({ port: group.server.port });
    const leader = await group.startManager({ label: 'direct' });
    const cut = await group.startManager({ url: proxy.url, label: 'behind-proxy' });
    await group.waitConverged({ timeoutMs: 10_000, what: 'two workers converged', expectWorkers: 2 });
    assert.ok(leader.isLeader, 'the directly connected worker leads');

    proxy.cut();
    await cut.manager.waitState('Degraded', { timeoutMs: 5_000 });
    // The leader presumes the silent worker dead (heartbeat expiry + grace) and takes everything.
    await waitFor(() => leader.partitionIds?.length === 20, { timeoutMs: 10_000, what: 'the leader owns all 20' });
    assert.ok((cut.partitionIds?.length ?? 0) > 0, 'the cut-off worker still serves its frozen assignment');

    proxy.restore();
    await group.waitConverged({ timeoutMs: 15_000, what: 'converged after the worker returned', expectWorkers: 2 });
    assert.ok((cut.partitionIds?.length ?? 0) > 0, 'the returning worker gets partitions again');
  });
});
