import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createActor, toPromise } from 'xstate';
import { AbortError, IdPoolExhaustedError, KvUnavailableError } from '../../../src/errors.js';
import { claimStableId, createClaimStableId } from '../../../src/services/stable-id.service.js';
import { waitFor } from '../../harness/wait.js';
import { fakeKv, makeDeps } from './helpers.js';

const never = new AbortController().signal;

void describe('stable-id', () => {
  void it('stable-id - lowest free ID wins', async () => {
    const kv = fakeKv();
    kv.stableId.set('worker-0', 'x');
    kv.stableId.set('worker-2', 'x');
    const deps = makeDeps(kv);
    const a = await claimStableId(deps, never);
    assert.equal(a.workerId, 'worker-1');
    assert.equal(a.revision, kv.stableId.peek('worker-1')?.revision);
    assert.match(kv.stableId.peek('worker-1')?.value ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const b = await claimStableId(deps, never);
    assert.equal(b.workerId, 'worker-3');
  });

  void it('stable-id - a deleted ID is free again', async () => {
    const kv = fakeKv();
    const deps = makeDeps(kv);
    const a = await claimStableId(deps, never);
    await kv.stableId.delete(a.workerId);
    assert.equal((await claimStableId(deps, never)).workerId, 'worker-0');
  });

  void it('stable-id - exhausted pool rejects with IdPoolExhaustedError and writes nothing', async () => {
    const kv = fakeKv();
    kv.stableId.set('w-3', 'x');
    kv.stableId.set('w-4', 'x');
    const deps = makeDeps(kv, { config: { workerIdPrefix: 'w', workerIdMin: 3, workerIdMax: 4 } });
    await assert.rejects(claimStableId(deps, never), (e) => e instanceof IdPoolExhaustedError && e.code === 'ID_POOL_EXHAUSTED');
    assert.deepEqual(await kv.stableId.keys(), ['w-3', 'w-4']);
  });

  void it('stable-id - other errors reject at once (no skipping, no put fallback)', async () => {
    const kv = fakeKv();
    kv.stableId.fault = (op, key) => (op === 'create' && key === 'worker-0' ? new KvUnavailableError('create') : undefined);
    await assert.rejects(claimStableId(makeDeps(kv), never), KvUnavailableError);
    assert.deepEqual(kv.stableId.calls, [{ op: 'create', key: 'worker-0' }]);
  });

  void it('stable-id - abort after a successful create deletes the key before rejecting', async () => {
    const kv = fakeKv();
    const ac = new AbortController();
    // Abort while the create is in flight: it still succeeds on the "server".
    kv.stableId.fault = (op) => {
      if (op === 'create') ac.abort();
      return undefined;
    };
    await assert.rejects(claimStableId(makeDeps(kv), ac.signal), AbortError);
    assert.equal(kv.stableId.peek('worker-0'), null);
    assert.deepEqual(await kv.stableId.keys(), []);
  });

  void it('stable-id - already aborted: no KV call', async () => {
    const kv = fakeKv();
    await assert.rejects(claimStableId(makeDeps(kv), AbortSignal.abort()), AbortError);
    assert.deepEqual(kv.stableId.calls, []);
  });

  void it('stable-id - actor logic resolves with the claim', async () => {
    const kv = fakeKv();
    const deps = makeDeps(kv);
    const done = await toPromise(createActor(createClaimStableId(deps), { input: { config: deps.config } }).start());
    assert.deepEqual(done, { workerId: 'worker-0', revision: kv.stableId.peek('worker-0')?.revision });
  });

  void it('stable-id - stopping the actor while its create is in flight leaves no key', async () => {
    const kv = fakeKv();
    const deps = makeDeps(kv);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered = false;
    const create = kv.stableId.create.bind(kv.stableId);
    kv.stableId.create = async (key, value) => {
      entered = true;
      await gate;
      return create(key, value);
    };
    const actor = createActor(createClaimStableId(deps), { input: { config: deps.config } }).start();
    await waitFor(() => entered, { timeoutMs: 2_000, what: 'the create to be in flight' });
    actor.stop(); // aborts the signal while the create is pending
    release();
    await waitFor(() => kv.stableId.calls.some((c) => c.op === 'delete' && c.key === 'worker-0'), {
      timeoutMs: 2_000,
      what: 'the aborted claim to delete worker-0',
    });
    assert.equal(kv.stableId.peek('worker-0'), null);
    assert.ok(kv.stableId.calls.some((c) => c.op === 'create' && c.key === 'worker-0'));
  });
});
