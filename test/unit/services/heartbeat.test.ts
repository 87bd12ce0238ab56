import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { KvUnavailableError, TimeoutError } from '../../../src/errors.js';
import { heartbeatEvents$ } from '../../../src/services/heartbeat.service.js';
import { decodeHeartbeat } from '../../../src/wire/heartbeat.js';
import { waitFor } from '../../harness/wait.js';
import { closeStores, delay, record, testKv } from './helpers.js';

const opts = (what: string) => ({ timeoutMs: 2_000, intervalMs: 2, what });

void describe('heartbeat', () => {
  afterEach(closeStores);

  void it('heartbeat - puts JSON with the worker status at once and then periodically', async () => {
    let version = 3;
    const kv = await testKv({ status: () => ({ state: 'Stable', leader: true, version }) });
    const before = Date.now();
    const r = record(heartbeatEvents$(kv.deps, { workerId: 'worker-4' }));
    try {
      const first = await waitFor(() => kv.heartbeat.peek('heartbeat.worker-4'), opts('the first beat'));
      assert.deepEqual(Object.keys(JSON.parse(first.value) as object), ['ts', 'state', 'leader', 'version']);
      const v = decodeHeartbeat(first.value);
      assert.deepEqual({ ...v, ts: 0 }, { ts: 0, state: 'Stable', leader: true, version: 3 });
      assert.ok(v.ts >= before);
      version = 4;
      await waitFor(
        async () => decodeHeartbeat((await kv.heartbeat.peek('heartbeat.worker-4'))?.value ?? '').version === 4,
        opts('a later beat with the new status'),
      );
      assert.deepEqual(r.events, []);
    } finally {
      r.stop();
    }
  });

  void it('heartbeat - never overlaps: the next put waits for the previous one', async () => {
    const kv = await testKv();
    let inFlight = 0;
    let maxInFlight = 0;
    const put = kv.heartbeat.put.bind(kv.heartbeat);
    kv.heartbeat.put = async (k, v) => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await delay(50); // slower than the 20 ms interval
      try {
        return await put(k, v);
      } finally {
        inFlight--;
      }
    };
    const r = record(heartbeatEvents$(kv.deps, { workerId: 'worker-0' }));
    try {
      await waitFor(() => kv.heartbeat.calls.length >= 3, opts('three beats'));
      assert.equal(maxInFlight, 1);
    } finally {
      r.stop();
    }
  });

  void it('heartbeat - a failure streak is reported once and the beat goes on', async () => {
    const kv = await testKv();
    kv.store.setOnline(false);
    const r = record(heartbeatEvents$(kv.deps, { workerId: 'worker-0' }));
    try {
      await waitFor(() => kv.heartbeat.calls.length >= 4, opts('several failed beats'));
      assert.equal(r.of('service.error').length, 1);
      const [e] = r.of('service.error');
      assert.equal(e?.source, 'heartbeat');
      assert.ok(e?.error instanceof KvUnavailableError);
      kv.store.setOnline(true);
      await waitFor(() => kv.heartbeat.peek('heartbeat.worker-0'), opts('a beat after recovery'));
      kv.store.setOnline(false);
      await waitFor(() => r.of('service.error').length === 2, opts('a second streak reported'));
      assert.equal(r.done, false);
      assert.equal(r.error, undefined);
    } finally {
      r.stop();
    }
  });

  void it('heartbeat - a put that hangs past the heartbeat TTL is abandoned and reported', async () => {
    const kv = await testKv();
    let hang = true;
    kv.heartbeat.fault = (op) => (op === 'put' && hang ? 'hang' : undefined);
    const r = record(heartbeatEvents$(kv.deps, { workerId: 'worker-0' }));
    try {
      await waitFor(() => r.of('service.error').length === 1, opts('the timeout reported'));
      assert.ok(r.of('service.error')[0]?.error instanceof TimeoutError);
      hang = false;
      await waitFor(() => kv.heartbeat.peek('heartbeat.worker-0'), opts('beats resuming'));
    } finally {
      r.stop();
    }
  });

  void it('heartbeat - unsubscribing stops the beat and does not delete the key (the teardown does)', async () => {
    const kv = await testKv();
    const r = record(heartbeatEvents$(kv.deps, { workerId: 'worker-0' }));
    await waitFor(() => kv.heartbeat.calls.length >= 2, opts('two beats'));
    r.stop();
    assert.ok(await kv.heartbeat.peek('heartbeat.worker-0'));
    const calls = kv.heartbeat.calls.length;
    await delay(60); // three intervals
    assert.equal(kv.heartbeat.calls.length, calls);
    assert.ok(kv.heartbeat.calls.every((c) => c.op === 'put'));
  });
});
