import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KvUnavailableError, LeaseLostError, RevisionMismatchError } from '../../../src/errors.js';
import { electionEvents$, type ElectionEvent } from '../../../src/services/election.service.js';
import { waitFor } from '../../harness/wait.js';
import { fakeKv, makeDeps, record, type Recorder } from './helpers.js';

const opts = (what: string, timeoutMs = 2_000) => ({ timeoutMs, intervalMs: 2, what });
const types = (r: Recorder<ElectionEvent>): string[] => r.events.map((e) => e.type).filter((t) => t !== 'leadership.renewed');

void describe('election', () => {
  void it('election - one of two contenders wins, the other follows', async () => {
    const kv = fakeKv();
    const deps = makeDeps(kv);
    const a = record(electionEvents$(deps, { workerId: 'worker-0' }));
    const b = record(electionEvents$(deps, { workerId: 'worker-1' }));
    try {
      await waitFor(() => a.events.length > 0 && b.events.length > 0, opts('a first event from both'));
      const firsts = [a.events[0]?.type, b.events[0]?.type].sort();
      assert.deepEqual(firsts, ['leadership.acquired', 'leadership.follower']);
      const [leader, follower] = a.events[0]?.type === 'leadership.acquired' ? [a, b] : [b, a];
      const acquired = leader.of('leadership.acquired')[0]!;
      const entry = kv.election.peek('leader')!;
      assert.ok(acquired.epoch > 0);
      assert.match(entry.value, new RegExp(`^${leader === a ? 'worker-0' : 'worker-1'}:\\d+$`));
      await waitFor(() => leader.of('leadership.renewed').length >= 2, opts('renewals'));
      assert.equal(kv.election.peek('leader')?.revision, leader.of('leadership.renewed').at(-1)?.revision);
      assert.deepEqual(types(follower), ['leadership.follower'], 'follower announced once');
      assert.deepEqual(types(leader), ['leadership.acquired']);
    } finally {
      a.stop();
      b.stop();
    }
  });

  void it('election - the epoch is the revision of the created leader key', async () => {
    const kv = fakeKv();
    kv.election.set('other', 'x'); // move the sequence on
    const r = record(electionEvents$(makeDeps(kv), { workerId: 'worker-0' }));
    try {
      await waitFor(() => r.of('leadership.acquired')[0], opts('leadership'));
      assert.equal(r.of('leadership.acquired')[0]?.epoch, 2);
    } finally {
      r.stop();
    }
  });

  void it('election - the follower takes over at once when the leader key is deleted (watch)', async () => {
    const kv = fakeKv();
    // A 3 s lease: the periodic retry (every 1 s) cannot be what wins within the 500 ms below.
    const deps = makeDeps(kv, { config: { electionTimeout: 3_000 } });
    kv.election.set('leader', 'worker-9:1');
    const r = record(electionEvents$(deps, { workerId: 'worker-0' }));
    try {
      await waitFor(() => r.of('leadership.follower').length === 1, opts('follower'));
      await kv.election.delete('leader'); // the leader's graceful stop
      await waitFor(() => r.of('leadership.acquired').length === 1, opts('takeover through the watch', 500));
      assert.match(kv.election.peek('leader')!.value, /^worker-0:/);
      assert.deepEqual(types(r), ['leadership.follower', 'leadership.acquired']);
    } finally {
      r.stop();
    }
  });

  void it('election - without expiry markers the periodic retry takes over within a period', async () => {
    const kv = fakeKv();
    kv.election.liveWatch = false;
    kv.election.set('leader', 'worker-9:1');
    const r = record(electionEvents$(makeDeps(kv), { workerId: 'worker-0' }));
    try {
      await waitFor(() => r.of('leadership.follower').length === 1, opts('follower'));
      kv.election.expire('leader');
      await waitFor(() => r.of('leadership.acquired').length === 1, opts('takeover within electionTimeout/3', 500));
    } finally {
      r.stop();
    }
  });

  void it('election - a renewal conflict → leadership.lost, then follower, then leader again after the key goes', async () => {
    const kv = fakeKv();
    const r = record(electionEvents$(makeDeps(kv), { workerId: 'worker-0' }));
    try {
      await waitFor(() => r.of('leadership.acquired').length === 1, opts('leadership'));
      const firstEpoch = r.of('leadership.acquired')[0]!.epoch;
      kv.election.set('leader', 'worker-7:1'); // someone else holds it now
      await waitFor(() => r.of('leadership.follower').length === 1, opts('follower after the loss'));
      const [lost] = r.of('leadership.lost');
      assert.ok(lost?.error instanceof LeaseLostError);
      assert.ok(lost.error.cause instanceof RevisionMismatchError);
      assert.equal(kv.election.peek('leader')?.value, 'worker-7:1', 'never overwrites');
      assert.deepEqual(types(r), ['leadership.acquired', 'leadership.lost', 'leadership.follower']);
      kv.election.expire('leader');
      await waitFor(() => r.of('leadership.acquired').length === 2, opts('leadership again'));
      assert.ok(r.of('leadership.acquired')[1]!.epoch > firstEpoch);
    } finally {
      r.stop();
    }
  });

  void it('election - transient renewal failures for electionTimeout → leadership.lost, then follower', async () => {
    const kv = fakeKv();
    const r = record(electionEvents$(makeDeps(kv), { workerId: 'worker-0' }));
    try {
      await waitFor(() => r.of('leadership.acquired').length === 1, opts('leadership'));
      let failing = true;
      kv.election.fault = (op) => (failing && op !== 'get' ? new KvUnavailableError(op) : undefined);
      const t0 = performance.now();
      await waitFor(() => r.of('leadership.lost').length === 1, opts('lost'));
      assert.ok(performance.now() - t0 >= 90, 'not before the lease could have expired');
      const [lost] = r.of('leadership.lost');
      assert.ok(lost?.error.cause instanceof KvUnavailableError);
      assert.equal(r.of('service.error').length, 1, 'one report per failure streak');
      await waitFor(() => r.of('leadership.follower').length === 1, opts('follower'));
      // The old key is still there (the server would expire it): we stay follower until it goes.
      failing = false;
      kv.election.expire('leader');
      await waitFor(() => r.of('leadership.acquired').length === 2, opts('leadership again'));
    } finally {
      r.stop();
    }
  });

  void it('election - one transient renewal failure does not depose the leader', async () => {
    const kv = fakeKv();
    const r = record(electionEvents$(makeDeps(kv), { workerId: 'worker-0' }));
    try {
      await waitFor(() => r.of('leadership.acquired').length === 1, opts('leadership'));
      let n = 1;
      kv.election.fault = (op) => (op === 'update' && n-- > 0 ? new KvUnavailableError(op) : undefined);
      await waitFor(() => r.of('leadership.renewed').length >= 1 && n < 0, opts('a renewal after the failure'));
      assert.equal(r.of('leadership.lost').length, 0);
    } finally {
      r.stop();
    }
  });

  void it('election - a transient failure on the first attempt still answers promptly (follower) and keeps contending', async () => {
    const kv = fakeKv();
    let failing = true;
    kv.election.fault = (op) => (failing && op === 'create' ? new KvUnavailableError(op) : undefined);
    const r = record(electionEvents$(makeDeps(kv), { workerId: 'worker-0' }));
    try {
      await waitFor(() => r.of('leadership.follower').length === 1, opts('follower'));
      assert.equal(r.of('service.error')[0]?.source, 'election');
      failing = false;
      await waitFor(() => r.of('leadership.acquired').length === 1, opts('leadership after recovery'));
    } finally {
      r.stop();
    }
  });

  void it('election - unsubscribing stops renewals and the watch, and keeps the key', async () => {
    const kv = fakeKv();
    const r = record(electionEvents$(makeDeps(kv), { workerId: 'worker-0' }));
    await waitFor(() => r.of('leadership.acquired').length === 1, opts('leadership'));
    assert.equal(kv.election.activeWatches, 1);
    r.stop();
    assert.equal(kv.election.activeWatches, 0);
    const calls = kv.election.calls.length;
    await new Promise((res) => setTimeout(res, 120));
    assert.equal(kv.election.calls.length, calls);
    assert.match(kv.election.peek('leader')!.value, /^worker-0:/);
  });
});
