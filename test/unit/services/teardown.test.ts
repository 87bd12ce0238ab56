import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createActor, toPromise } from 'xstate';
import { KvUnavailableError, TimeoutError } from '../../../src/errors.js';
import { createTeardown, runTeardown } from '../../../src/services/teardown.service.js';
import { fakeKv, makeDeps, type TestKv } from './helpers.js';

/** worker-0 holds its ID, its heartbeat and (optionally) the leader key. */
function holding(kv: TestKv, leader = true): { idRevision: number } {
  const idRevision = kv.stableId.set('worker-0', 'claimed');
  kv.heartbeat.set('heartbeat.worker-0', '{"ts":1}');
  kv.heartbeat.set('heartbeat.worker-1', '{"ts":1}');
  if (leader) kv.election.set('leader', 'worker-0:1700000000');
  return { idRevision };
}

const order = (kv: TestKv): string[] =>
  [kv.heartbeat, kv.election, kv.stableId].flatMap((b) => b.calls.map((c) => `${b.name}:${c.op}:${c.key}`));

void describe('teardown', () => {
  void it('teardown - releases heartbeat, leadership and ID, in that order', async () => {
    const kv = fakeKv();
    const { idRevision } = holding(kv);
    const calls: string[] = [];
    for (const b of [kv.heartbeat, kv.election, kv.stableId]) {
      b.fault = (op, key) => {
        calls.push(`${b.name}:${op}:${key}`);
        return undefined;
      };
    }
    const out = await runTeardown(makeDeps(kv), { workerId: 'worker-0', idRevision, wasLeader: true });
    assert.deepEqual(out, { errors: [] });
    assert.deepEqual(calls, [
      'heartbeat:delete:heartbeat.worker-0',
      'election:get:leader',
      'election:delete:leader',
      'stableid:delete:worker-0',
    ]);
    assert.equal(kv.heartbeat.peek('heartbeat.worker-0'), null);
    assert.ok(kv.heartbeat.peek('heartbeat.worker-1'), 'other heartbeats untouched');
    assert.equal(kv.election.peek('leader'), null);
    assert.equal(kv.stableId.peek('worker-0'), null);
  });

  void it('teardown - never deletes keys held by someone else', async () => {
    const kv = fakeKv();
    const { idRevision } = holding(kv, false);
    kv.election.set('leader', 'worker-10:1700000000'); // a prefix of ours is not ours
    kv.stableId.set('worker-0', 'reclaimed by another process after our lease expired');
    const out = await runTeardown(makeDeps(kv), { workerId: 'worker-1', idRevision, wasLeader: true });
    assert.deepEqual(out, { errors: [] });
    const out2 = await runTeardown(makeDeps(kv), { workerId: 'worker-0', idRevision, wasLeader: true });
    assert.deepEqual(out2, { errors: [] });
    assert.equal(kv.election.peek('leader')?.value, 'worker-10:1700000000');
    assert.equal(kv.stableId.peek('worker-0')?.value, 'reclaimed by another process after our lease expired');
  });

  void it('teardown - every step runs when an earlier one fails; failures are collected', async () => {
    const kv = fakeKv();
    const { idRevision } = holding(kv);
    kv.heartbeat.fault = () => new KvUnavailableError('delete');
    kv.election.fault = (op) => (op === 'get' ? new Error('boom') : undefined);
    const out = await runTeardown(makeDeps(kv), { workerId: 'worker-0', idRevision, wasLeader: true });
    assert.equal(out.errors.length, 2);
    assert.ok(out.errors[0] instanceof KvUnavailableError);
    assert.equal((out.errors[1] as { code?: string }).code, 'KV_ERROR');
    assert.equal(kv.stableId.peek('worker-0'), null, 'the ID is still released');
  });

  void it('teardown - a hanging step times out and the others still run', async () => {
    const kv = fakeKv();
    const { idRevision } = holding(kv);
    kv.heartbeat.fault = () => 'hang';
    const out = await runTeardown(makeDeps(kv), { workerId: 'worker-0', idRevision, wasLeader: true, stepTimeoutMs: 30 });
    assert.equal(out.errors.length, 1);
    assert.ok(out.errors[0] instanceof TimeoutError);
    assert.equal(kv.election.peek('leader'), null);
    assert.equal(kv.stableId.peek('worker-0'), null);
  });

  void it('teardown - a non-leader still removes a leader key with its value (a create was in flight), errors ignored', async () => {
    const kv = fakeKv();
    const { idRevision } = holding(kv);
    const out = await runTeardown(makeDeps(kv), { workerId: 'worker-0', idRevision, wasLeader: false });
    assert.deepEqual(out, { errors: [] });
    assert.equal(kv.election.peek('leader'), null);

    const kv2 = fakeKv();
    const held = holding(kv2, false);
    kv2.election.fault = () => new KvUnavailableError('get');
    const out2 = await runTeardown(makeDeps(kv2), { workerId: 'worker-0', idRevision: held.idRevision, wasLeader: false });
    assert.deepEqual(out2, { errors: [] });
  });

  void it('teardown - without a worker ID there is nothing to do; without a revision the ID is left to expire', async () => {
    const kv = fakeKv();
    holding(kv);
    assert.deepEqual(await runTeardown(makeDeps(kv), { workerId: undefined, idRevision: undefined, wasLeader: false }), {
      errors: [],
    });
    assert.deepEqual(order(kv), []);
    await runTeardown(makeDeps(kv), { workerId: 'worker-0', idRevision: undefined, wasLeader: true });
    assert.ok(kv.stableId.peek('worker-0'));
    assert.equal(kv.stableId.calls.length, 0);
  });

  void it('teardown - actor logic resolves with the errors (never rejects)', async () => {
    const kv = fakeKv();
    const { idRevision } = holding(kv);
    kv.stableId.fault = () => new KvUnavailableError('delete');
    const actor = createActor(createTeardown(makeDeps(kv)), { input: { workerId: 'worker-0', idRevision, wasLeader: true } });
    const out = await toPromise(actor.start());
    assert.equal(out.errors.length, 1);
  });
});
