import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { runTeardown } from '../../../src/services/teardown.service.js';
import { WriteLedger } from '../../../src/services/write-ledger.js';
import { closeStores, testKv } from './helpers.js';

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

void describe('write ledger', () => {
  afterEach(closeStores);

  void it('write ledger - records the highest revision written per key', async () => {
    const ledger = new WriteLedger();
    await ledger.track('worker-0', Promise.resolve(7));
    await ledger.track('worker-0', Promise.resolve(5));
    await assert.rejects(ledger.track('worker-0', Promise.reject(new Error('lost'))));
    assert.equal(ledger.latest('worker-0'), 7);
    ledger.forget('worker-0');
    assert.equal(ledger.latest('worker-0'), undefined);
  });

  void it('write ledger - drain waits for writes in flight and for the clean-ups they start', async () => {
    const ledger = new WriteLedger();
    const write = deferred<number>();
    const cleanup = deferred<void>();
    let cleanedUp = false;
    void ledger.track('leader', write.promise).then(() => {
      // Like an aborted claim giving its ID back once the create lands.
      ledger.settling(cleanup.promise.then(() => (cleanedUp = true)));
    });
    const drained = ledger.drain(5_000);
    write.resolve(3);
    setTimeout(() => cleanup.resolve(), 20);
    await drained;
    assert.equal(cleanedUp, true);
    assert.equal(ledger.pending, 0);
  });

  void it('write ledger - drain gives up at its timeout', async () => {
    const ledger = new WriteLedger();
    void ledger.track('k', new Promise<number>(() => {}));
    const t0 = Date.now();
    await ledger.drain(50);
    assert.ok(Date.now() - t0 < 1_000);
    assert.equal(ledger.pending, 1);
  });

  void it('teardown - releases the ID at a renewal that landed after the machine last heard (stop during a renewal)', async () => {
    const kv = await testKv();
    const claimed = await kv.stableId.create('worker-0', 'claimed');
    // The renewal's actor was stopped before it could report; only the ledger saw its result.
    const renewal = deferred<number>();
    void kv.deps.writes.track('worker-0', renewal.promise);
    const teardown = runTeardown(kv.deps, { workerId: 'worker-0', idRevision: claimed, wasLeader: false });
    renewal.resolve(await kv.stableId.update('worker-0', 'renewed', claimed));
    const out = await teardown;
    assert.deepEqual(out, { errors: [] });
    assert.equal(await kv.stableId.peek('worker-0'), null, 'the renewed ID is released, not left to expire');
  });
});

void describe('heartbeat and teardown', () => {
  afterEach(closeStores);

  void it('teardown - a heartbeat put in flight at stop cannot bring the key back after its delete', async () => {
    const kv = await testKv();
    const claimed = await kv.stableId.create('worker-0', 'claimed');
    // The heartbeat service is stopped while its put is still travelling.
    let landPut!: () => void;
    const gate = new Promise<void>((r) => (landPut = r));
    const heartbeat = (await kv.deps.buckets()).heartbeat;
    const put = kv.deps.writes.track(
      'heartbeat.worker-0',
      gate.then(() => heartbeat.put('heartbeat.worker-0', '{"ts":1}')),
    );
    const teardown = runTeardown(kv.deps, { workerId: 'worker-0', idRevision: claimed, wasLeader: false });
    setTimeout(landPut, 30);
    assert.deepEqual(await teardown, { errors: [] });
    await put;
    assert.equal(await kv.heartbeat.peek('heartbeat.worker-0'), null, 'the graceful leave stays a DEL');
  });
});
