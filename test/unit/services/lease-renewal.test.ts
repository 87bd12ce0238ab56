import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { KvUnavailableError, LeaseLostError, RevisionMismatchError } from '../../../src/errors.js';
import { leaseRenewalEvents$ } from '../../../src/services/lease-renewal.service.js';
import { waitFor } from '../../harness/wait.js';
import { closeStores, delay, record, testKv } from './helpers.js';

const opts = (what: string) => ({ timeoutMs: 2_000, intervalMs: 5, what });

void describe('lease-renewal', () => {
  afterEach(closeStores);

  void it('lease-renewal - renewals keep the ID alive past its TTL, each a revision-checked update', async () => {
    const kv = await testKv(); // workerIdTtl 300 ms, renewed every 100 ms
    const revision = await kv.stableId.create('worker-0', 'claimed');
    const r = record(leaseRenewalEvents$(kv.deps, { workerId: 'worker-0', revision }));
    try {
      await waitFor(() => r.of('lease.renewed').length >= 4, opts('four renewals (> 1 TTL)'));
      const revs = r.of('lease.renewed').map((e) => e.revision);
      assert.deepEqual(revs, [...revs].sort((a, b) => a - b));
      assert.ok(revs[0]! > revision);
      assert.ok(kv.stableId.calls.slice(1).every((c) => c.op === 'update'), 'no blind puts');
      assert.ok((await kv.stableId.peek('worker-0'))!.revision >= revs.at(-1)!);
    } finally {
      r.stop();
    }
  });

  void it("lease-renewal - someone else's write fences us out: lease.lost, no overwrite, completes", async () => {
    const kv = await testKv();
    const revision = await kv.stableId.create('worker-0', 'claimed');
    const r = record(leaseRenewalEvents$(kv.deps, { workerId: 'worker-0', revision }));
    try {
      const theirs = await kv.stableId.set('worker-0', 'someone else');
      await waitFor(() => r.done, opts('the service to complete'));
      const lost = r.of('lease.lost');
      assert.equal(lost.length, 1);
      assert.ok(lost[0]!.error instanceof LeaseLostError);
      assert.ok(lost[0]!.error.cause instanceof RevisionMismatchError);
      assert.equal(r.events.at(-1)?.type, 'lease.lost');
      const entry = await kv.stableId.peek('worker-0');
      assert.deepEqual([entry?.value, entry?.revision], ['someone else', theirs]);
    } finally {
      r.stop();
    }
  });

  void it('lease-renewal - a transient failure is retried at the next tick', async () => {
    const kv = await testKv();
    const revision = await kv.stableId.create('worker-0', 'claimed');
    let failures = 1;
    kv.stableId.fault = (op) => (op === 'update' && failures-- > 0 ? new KvUnavailableError('update') : undefined);
    const r = record(leaseRenewalEvents$(kv.deps, { workerId: 'worker-0', revision }));
    try {
      await waitFor(() => r.of('lease.renewed').length >= 1, opts('a renewal after the failure'));
      assert.equal(r.of('lease.lost').length, 0);
      assert.ok(kv.stableId.calls.filter((c) => c.op === 'update').length >= 2);
    } finally {
      r.stop();
    }
  });

  void it('lease-renewal - no successful renewal for workerIdTtl → lease.lost with the last error', async () => {
    const kv = await testKv();
    const revision = await kv.stableId.create('worker-0', 'claimed');
    kv.store.setOnline(false);
    const started = performance.now();
    const r = record(leaseRenewalEvents$(kv.deps, { workerId: 'worker-0', revision }));
    try {
      await waitFor(() => r.done, opts('lease.lost after the TTL'));
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 290, `lost after ${elapsed} ms, before the 300 ms TTL`);
      const [lost] = r.of('lease.lost');
      assert.ok(lost?.error instanceof LeaseLostError);
      assert.ok(lost.error.cause instanceof KvUnavailableError);
      assert.ok(kv.stableId.calls.filter((c) => c.op === 'update').length >= 2, 'retried meanwhile');
    } finally {
      r.stop();
    }
  });

  void it('lease-renewal - a renewal that hangs past the TTL → lease.lost', async () => {
    const kv = await testKv();
    const revision = await kv.stableId.create('worker-0', 'claimed');
    kv.stableId.fault = (op) => (op === 'update' ? 'hang' : undefined);
    const r = record(leaseRenewalEvents$(kv.deps, { workerId: 'worker-0', revision }));
    try {
      await waitFor(() => r.done, opts('lease.lost while the update hangs'));
      assert.equal(r.of('lease.lost').length, 1);
    } finally {
      r.stop();
    }
  });

  void it('lease-renewal - unsubscribing stops the renewals', async () => {
    const kv = await testKv();
    const revision = await kv.stableId.create('worker-0', 'claimed');
    const r = record(leaseRenewalEvents$(kv.deps, { workerId: 'worker-0', revision }));
    await waitFor(() => r.of('lease.renewed').length >= 1, opts('a renewal'));
    r.stop();
    const calls = kv.stableId.calls.length;
    await delay(250); // two more periods
    assert.equal(kv.stableId.calls.length, calls);
    assert.equal(r.done, false);
  });
});
