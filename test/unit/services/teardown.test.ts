import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { createActor, toPromise } from 'xstate';
import { KvUnavailableError, TimeoutError } from '../../../src/errors.js';
import { createTeardown, runTeardown } from '../../../src/services/teardown.service.js';
import { closeStores, testKv, type TestKv } from './helpers.js';

/** worker-0 holds its ID, its heartbeat and (optionally) the leader key; worker-1 beats too. */
async function holding(kv: TestKv, leader = true): Promise<{ idRevision: number }> {
  const idRevision = await kv.stableId.create('worker-0', 'claimed');
  await kv.heartbeat.set('heartbeat.worker-0', '{"ts":1}');
  await kv.heartbeat.set('heartbeat.worker-1', '{"ts":1}');
  if (leader) await kv.election.create('leader', 'worker-0:1700000000');
  for (const b of [kv.stableId, kv.election, kv.heartbeat]) b.calls.length = 0;
  return { idRevision };
}

void describe('teardown', () => {
  afterEach(closeStores);

  void it('teardown - releases heartbeat, leadership and ID, in that order', async () => {
    const kv = await testKv();
    const { idRevision } = await holding(kv);
    const calls: string[] = [];
    for (const b of [kv.heartbeat, kv.election, kv.stableId]) {
      b.fault = (op, key) => {
        calls.push(`${op}:${key}`);
        return undefined;
      };
    }
    const out = await runTeardown(kv.deps, { workerId: 'worker-0', idRevision, wasLeader: true });
    assert.deepEqual(out, { errors: [] });
    assert.deepEqual(calls, ['delete:heartbeat.worker-0', 'get:leader', 'delete:leader', 'delete:worker-0']);
    assert.equal(await kv.heartbeat.peek('heartbeat.worker-0'), null);
    assert.ok(await kv.heartbeat.peek('heartbeat.worker-1'), 'other heartbeats untouched');
    assert.equal(await kv.election.peek('leader'), null);
    assert.equal(await kv.stableId.peek('worker-0'), null);
  });

  void it('teardown - never deletes keys held by someone else', async () => {
    const kv = await testKv();
    const { idRevision } = await holding(kv, false);
    await kv.election.set('leader', 'worker-0x:1700000000'); // a longer ID sharing our prefix
    await kv.stableId.set('worker-0', 'reclaimed by another process after our lease expired');
    const out = await runTeardown(kv.deps, { workerId: 'worker-0', idRevision, wasLeader: true });
    assert.deepEqual(out, { errors: [] });
    assert.equal((await kv.election.peek('leader'))?.value, 'worker-0x:1700000000');
    assert.equal((await kv.stableId.peek('worker-0'))?.value, 'reclaimed by another process after our lease expired');
  });

  void it('teardown - every step runs when an earlier one fails; failures are collected', async () => {
    const kv = await testKv();
    const { idRevision } = await holding(kv);
    kv.heartbeat.fault = () => new KvUnavailableError('delete');
    kv.election.fault = (op) => (op === 'get' ? new Error('boom') : undefined);
    const out = await runTeardown(kv.deps, { workerId: 'worker-0', idRevision, wasLeader: true });
    assert.equal(out.errors.length, 2);
    assert.ok(out.errors[0] instanceof KvUnavailableError);
    assert.equal((out.errors[1] as { code?: string }).code, 'KV_ERROR');
    assert.equal(await kv.stableId.peek('worker-0'), null, 'the ID is still released');
  });

  void it('teardown - a hanging step times out and the others still run', async () => {
    const kv = await testKv();
    const { idRevision } = await holding(kv);
    kv.heartbeat.fault = () => 'hang';
    const out = await runTeardown(kv.deps, { workerId: 'worker-0', idRevision, wasLeader: true, stepTimeoutMs: 30 });
    assert.equal(out.errors.length, 1);
    assert.ok(out.errors[0] instanceof TimeoutError);
    assert.equal(await kv.election.peek('leader'), null);
    assert.equal(await kv.stableId.peek('worker-0'), null);
  });

  void it('teardown - with NATS down every step fails fast and is reported', async () => {
    const kv = await testKv();
    const { idRevision } = await holding(kv);
    kv.store.setOnline(false);
    const out = await runTeardown(kv.deps, { workerId: 'worker-0', idRevision, wasLeader: true });
    assert.equal(out.errors.length, 3);
    assert.ok(out.errors.every((e) => e instanceof KvUnavailableError));
  });

  void it('teardown - a non-leader still removes a leader key with its value (a create was in flight); its errors are ignored', async () => {
    const kv = await testKv();
    const { idRevision } = await holding(kv);
    assert.deepEqual(await runTeardown(kv.deps, { workerId: 'worker-0', idRevision, wasLeader: false }), { errors: [] });
    assert.equal(await kv.election.peek('leader'), null);

    const kv2 = await testKv();
    const held = await holding(kv2, false);
    kv2.election.fault = () => new KvUnavailableError('get');
    const out = await runTeardown(kv2.deps, { workerId: 'worker-0', idRevision: held.idRevision, wasLeader: false });
    assert.deepEqual(out, { errors: [] });
  });

  void it('teardown - without a worker ID there is nothing to do; without a revision the ID is left to expire', async () => {
    const kv = await testKv();
    await holding(kv);
    assert.deepEqual(await runTeardown(kv.deps, { workerId: undefined, idRevision: undefined, wasLeader: false }), {
      errors: [],
    });
    assert.equal(kv.heartbeat.calls.length + kv.election.calls.length + kv.stableId.calls.length, 0);
    await runTeardown(kv.deps, { workerId: 'worker-0', idRevision: undefined, wasLeader: true });
    assert.ok(await kv.stableId.peek('worker-0'));
    assert.equal(kv.stableId.calls.length, 0);
  });

  void it('teardown - actor logic resolves with the errors (never rejects)', async () => {
    const kv = await testKv();
    const { idRevision } = await holding(kv);
    kv.stableId.fault = () => new KvUnavailableError('delete');
    const actor = createActor(createTeardown(kv.deps), { input: { workerId: 'worker-0', idRevision, wasLeader: true } });
    const out = await toPromise(actor.start());
    assert.equal(out.errors.length, 1);
  });
});
