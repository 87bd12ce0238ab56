import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { KvUnavailableError, LeaseLostError, RevisionMismatchError } from '../../../src/errors.js';
import { electionEvents$, type ElectionEvent } from '../../../src/services/election.service.js';
import { waitFor } from '../../harness/wait.js';
import { closeStores, delay, record, testKv, type Recorder } from './helpers.js';

// electionTimeout 300 ms (renew / retry every 100 ms); the leader key's bucket TTL is the same.
const opts = (what: string, timeoutMs = 2_000) => ({ timeoutMs, intervalMs: 2, what });
const types = (r: Recorder<ElectionEvent>): string[] =>
  r.events.map((e) => e.type).filter((t) => t !== 'leadership.renewed' && t !== 'service.error');

void describe('election', () => {
  afterEach(closeStores);

  void it('election - one of two contenders wins, the other follows', async () => {
    const kv = await testKv();
    const a = record(electionEvents$(kv.deps, { workerId: 'worker-0' }));
    const b = record(electionEvents$(kv.deps, { workerId: 'worker-1' }));
    try {
      await waitFor(() => a.events.length > 0 && b.events.length > 0, opts('a first event from both'));
      assert.deepEqual([a.events[0]?.type, b.events[0]?.type].sort(), ['leadership.acquired', 'leadership.follower']);
      const [leader, follower, id] = a.events[0]?.type === 'leadership.acquired' ? [a, b, 'worker-0'] : [b, a, 'worker-1'];
      await waitFor(() => leader.of('leadership.renewed').length >= 4, opts('renewals past the lease'));
      const entry = await kv.election.peek('leader');
      assert.match(entry?.value ?? '', new RegExp(`^${id}:\\d+$`));
      assert.ok(entry!.revision >= leader.of('leadership.renewed').at(-1)!.revision);
      assert.deepEqual(types(follower), ['leadership.follower'], 'follower announced once');
      assert.deepEqual(types(leader), ['leadership.acquired']);
    } finally {
      a.stop();
      b.stop();
    }
  });

  void it('election - the epoch is the revision of the created leader key', async () => {
    const kv = await testKv();
    await kv.election.set('other', 'x'); // revision 1
    const r = record(electionEvents$(kv.deps, { workerId: 'worker-0' }));
    try {
      await waitFor(() => r.of('leadership.acquired')[0], opts('leadership'));
      assert.equal(r.of('leadership.acquired')[0]?.epoch, 2);
    } finally {
      r.stop();
    }
  });

  void it('election - the follower takes over at once when the leader key is deleted (watch)', async () => {
    // A 3 s lease: the periodic retry (every 1 s) cannot be what wins within 500 ms.
    const kv = await testKv({ config: { electionTimeout: 3_000 } });
    await kv.election.set('leader', 'worker-9:1');
    const r = record(electionEvents$(kv.deps, { workerId: 'worker-0' }));
    try {
      await waitFor(() => r.of('leadership.follower').length === 1, opts('follower'));
      await kv.election.remove('leader'); // the leader's graceful stop
      await waitFor(() => r.of('leadership.acquired').length === 1, opts('takeover through the watch', 500));
      assert.match((await kv.election.peek('leader'))!.value, /^worker-0:/);
      assert.deepEqual(types(r), ['leadership.follower', 'leadership.acquired']);
    } finally {
      r.stop();
    }
  });

  for (const expiryMarkers of [true, false]) {
    void it(`election - a crashed leader's key expires and the follower takes over (expiry markers: ${expiryMarkers})`, async () => {
      const kv = await testKv({ expiryMarkers });
      await kv.election.set('leader', 'worker-9:1'); // never renewed
      const r = record(electionEvents$(kv.deps, { workerId: 'worker-0' }));
      try {
        await waitFor(() => r.of('leadership.follower').length === 1, opts('follower'));
        await waitFor(() => r.of('leadership.acquired').length === 1, opts('takeover after expiry', 1_000));
      } finally {
        r.stop();
      }
    });
  }

  void it('election - a renewal conflict → leadership.lost, then follower, then leader again when the key expires', async () => {
    const kv = await testKv();
    const r = record(electionEvents$(kv.deps, { workerId: 'worker-0' }));
    try {
      await waitFor(() => r.of('leadership.acquired').length === 1, opts('leadership'));
      const firstEpoch = r.of('leadership.acquired')[0]!.epoch;
      await kv.election.set('leader', 'worker-7:1'); // someone else holds it now (and then vanishes)
      await waitFor(() => r.of('leadership.follower').length === 1, opts('follower after the loss'));
      const [lost] = r.of('leadership.lost');
      assert.ok(lost?.error instanceof LeaseLostError);
      assert.ok(lost.error.cause instanceof RevisionMismatchError);
      assert.equal((await kv.election.peek('leader'))?.value, 'worker-7:1', 'never overwrites');
      assert.deepEqual(types(r), ['leadership.acquired', 'leadership.lost', 'leadership.follower']);
      await waitFor(() => r.of('leadership.acquired').length === 2, opts('leadership again'));
      assert.ok(r.of('leadership.acquired')[1]!.epoch > firstEpoch);
    } finally {
      r.stop();
    }
  });

  void it('election - the leader steps down as soon as the watch reports its key deleted', async () => {
    const kv = await testKv({ config: { electionTimeout: 3_000 } }); // renewals every 1 s
    const r = record(electionEvents$(kv.deps, { workerId: 'worker-0' }));
    try {
      await waitFor(() => r.of('leadership.acquired').length === 1, opts('leadership'));
      await kv.election.remove('leader'); // e.g. an operator, or a deposed Go leader's unconditional delete
      await waitFor(() => r.of('leadership.follower').length === 1, opts('step-down before the next renewal', 500));
      assert.deepEqual(types(r), ['leadership.acquired', 'leadership.lost', 'leadership.follower']);
    } finally {
      r.stop();
    }
  });

  void it('election - transient renewal failures for electionTimeout → leadership.lost, then follower', async () => {
    const kv = await testKv();
    const r = record(electionEvents$(kv.deps, { workerId: 'worker-0' }));
    try {
      await waitFor(() => r.of('leadership.acquired').length === 1, opts('leadership'));
      const t0 = performance.now();
      kv.store.setOnline(false);
      await waitFor(() => r.of('leadership.lost').length === 1, opts('lost'));
      assert.ok(performance.now() - t0 >= 190, 'not before the lease could have expired');
      assert.ok(r.of('leadership.lost')[0]?.error.cause instanceof KvUnavailableError);
      await waitFor(() => r.of('leadership.follower').length === 1, opts('follower'));
      assert.equal(r.of('service.error').length, 1, 'one report per failure streak');
      kv.store.setOnline(true);
      await waitFor(() => r.of('leadership.acquired').length === 2, opts('leadership again once the old key expired'));
      assert.deepEqual(types(r), ['leadership.acquired', 'leadership.lost', 'leadership.follower', 'leadership.acquired']);
    } finally {
      r.stop();
    }
  });

  void it('election - one transient renewal failure does not depose the leader', async () => {
    const kv = await testKv();
    const r = record(electionEvents$(kv.deps, { workerId: 'worker-0' }));
    try {
      await waitFor(() => r.of('leadership.acquired').length === 1, opts('leadership'));
      let n = 1;
      kv.election.fault = (op) => (op === 'update' && n-- > 0 ? new KvUnavailableError(op) : undefined);
      await waitFor(() => n < 0 && r.of('leadership.renewed').length >= 1, opts('a renewal after the failure'));
      assert.equal(r.of('leadership.lost').length, 0);
      assert.equal(r.of('service.error').length, 1);
    } finally {
      r.stop();
    }
  });

  void it('election - a failure on the first attempt still answers promptly (follower) and keeps contending', async () => {
    const kv = await testKv();
    kv.store.setOnline(false);
    const r = record(electionEvents$(kv.deps, { workerId: 'worker-0' }));
    try {
      await waitFor(() => r.of('leadership.follower').length === 1, opts('follower'));
      assert.equal(r.of('service.error')[0]?.source, 'election');
      kv.store.setOnline(true);
      await waitFor(() => r.of('leadership.acquired').length === 1, opts('leadership after recovery'));
    } finally {
      r.stop();
    }
  });

  void it('election - unsubscribing stops renewals and the watch at once, and keeps the key', async () => {
    const kv = await testKv();
    const r = record(electionEvents$(kv.deps, { workerId: 'worker-0' }));
    await waitFor(() => r.of('leadership.acquired').length === 1, opts('leadership'));
    assert.equal(kv.election.activeWatches, 1);
    r.stop();
    assert.equal(kv.election.activeWatches, 0);
    assert.match((await kv.election.peek('leader'))!.value, /^worker-0:/);
    const calls = kv.election.calls.length;
    await delay(250); // two more periods
    assert.equal(kv.election.calls.length, calls);
    assert.ok(kv.election.calls.every((c) => c.op !== 'delete'));
  });
});
