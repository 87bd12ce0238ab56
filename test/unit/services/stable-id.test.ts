import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { createActor, toPromise } from 'xstate';
import { AbortError, IdPoolExhaustedError, KvUnavailableError } from '../../../src/errors.js';
import { claimStableId, createClaimStableId } from '../../../src/services/stable-id.service.js';
import { waitFor } from '../../harness/wait.js';
import { closeStores, testKv } from './helpers.js';

const never = new AbortController().signal;

void describe('stable-id', () => {
  afterEach(closeStores);

  void it('stable-id - lowest free ID wins', async () => {
    const kv = await testKv();
    await kv.stableId.set('worker-0', 'x');
    await kv.stableId.set('worker-2', 'x');
    const a = await claimStableId(kv.deps, never);
    assert.equal(a.workerId, 'worker-1');
    const entry = await kv.stableId.peek('worker-1');
    assert.equal(a.revision, entry?.revision);
    assert.match(entry?.value ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal((await claimStableId(kv.deps, never)).workerId, 'worker-3');
  });

  void it('stable-id - a deleted ID is free again', async () => {
    const kv = await testKv();
    const a = await claimStableId(kv.deps, never);
    await kv.stableId.remove(a.workerId);
    assert.equal((await claimStableId(kv.deps, never)).workerId, 'worker-0');
  });

  void it('stable-id - exhausted pool rejects with IdPoolExhaustedError and writes nothing', async () => {
    const kv = await testKv({ config: { workerIdPrefix: 'w', workerIdMin: 3, workerIdMax: 4 } });
    await kv.stableId.set('w-3', 'x');
    await kv.stableId.set('w-4', 'x');
    await assert.rejects(claimStableId(kv.deps, never), (e) => e instanceof IdPoolExhaustedError && e.code === 'ID_POOL_EXHAUSTED');
    assert.deepEqual(
      kv.stableId.calls.map((c) => c.op),
      ['create', 'create'],
    );
    assert.deepEqual(await kv.stableId.keys(), ['w-3', 'w-4']);
  });

  void it('stable-id - other errors reject at once (no skipping, no put fallback)', async () => {
    const kv = await testKv();
    kv.stableId.fault = (op, key) => (op === 'create' && key === 'worker-0' ? new KvUnavailableError('create') : undefined);
    await assert.rejects(claimStableId(kv.deps, never), KvUnavailableError);
    assert.deepEqual(kv.stableId.calls, [{ op: 'create', key: 'worker-0' }]);
  });

  void it('stable-id - abort while a create is in flight: the key is deleted before rejecting', async () => {
    const kv = await testKv();
    const ac = new AbortController();
    // The abort lands while the create is on its way; it still succeeds on the "server".
    kv.stableId.fault = (op) => {
      if (op === 'create') ac.abort();
      return undefined;
    };
    await assert.rejects(claimStableId(kv.deps, ac.signal), AbortError);
    assert.deepEqual(
      kv.stableId.calls.map((c) => `${c.op}:${c.key}`),
      ['create:worker-0', 'delete:worker-0'],
    );
    assert.equal(await kv.stableId.peek('worker-0'), null);
  });

  void it('stable-id - already aborted: no KV call', async () => {
    const kv = await testKv();
    await assert.rejects(claimStableId(kv.deps, AbortSignal.abort()), AbortError);
    assert.deepEqual(kv.stableId.calls, []);
  });

  void it('stable-id - actor logic resolves with the claim', async () => {
    const kv = await testKv();
    const done = await toPromise(createActor(createClaimStableId(kv.deps), { input: { config: kv.deps.config } }).start());
    assert.deepEqual(done, { workerId: 'worker-0', revision: (await kv.stableId.peek('worker-0'))?.revision });
  });

  void it('stable-id - stopping the actor while its create is in flight leaves no key', async () => {
    const kv = await testKv();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered = false;
    const create = kv.stableId.create.bind(kv.stableId);
    kv.stableId.create = async (key, value) => {
      entered = true;
      await gate;
      return create(key, value);
    };
    const actor = createActor(createClaimStableId(kv.deps), { input: { config: kv.deps.config } }).start();
    await waitFor(() => entered, { timeoutMs: 2_000, what: 'the create to be in flight' });
    actor.stop(); // aborts the signal while the create is pending
    release();
    await waitFor(() => kv.stableId.calls.some((c) => c.op === 'delete' && c.key === 'worker-0'), {
      timeoutMs: 2_000,
      what: 'the aborted claim to delete worker-0',
    });
    assert.ok(kv.stableId.calls.some((c) => c.op === 'create' && c.key === 'worker-0'));
    await waitFor(async () => (await kv.stableId.peek('worker-0')) === null, { timeoutMs: 2_000, what: 'worker-0 gone' });
  });
});
