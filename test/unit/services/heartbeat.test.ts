import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KvUnavailableError } from '../../../src/errors.js';
import { heartbeatEvents$ } from '../../../src/services/heartbeat.service.js';
import { decodeHeartbeat } from '../../../src/wire/heartbeat.js';
import { waitFor } from '../../harness/wait.js';
import { fakeKv, makeDeps, record } from './helpers.js';

const opts = (what: string) => ({ timeoutMs: 2_000, intervalMs: 2, what });

void describe('heartbeat', () => {
  void it('heartbeat - puts JSON with the worker status at once and then periodically', async () => {
    const kv = fakeKv();
    let version = 3;
    const deps = makeDeps(kv, { status: () => ({ state: 'Stable', leader: true, version }) });
    const before = Date.now();
    const r = record(heartbeatEvents$(deps, { workerId: 'worker-4' }));
    try {
      await waitFor(() => kv.heartbeat.peek('heartbeat.worker-4'), opts('the first beat'));
      const first = JSON.parse(kv.heartbeat.peek('heartbeat.worker-4')!.value) as Record<string, unknown>;
      assert.deepEqual(Object.keys(first), ['ts', 'state', 'leader', 'version']);
      const v = decodeHeartbeat(kv.heartbeat.peek('heartbeat.worker-4')!.value);
      assert.deepEqual({ ...v, ts: 0 }, { ts: 0, state: 'Stable', leader: true, version: 3 });
      assert.ok(v.ts >= before);
      version = 4;
      await waitFor(() => decodeHeartbeat(kv.heartbeat.peek('heartbeat.worker-4')!.value).version === 4, opts('a later beat'));
      assert.deepEqual(r.events, []);
    } finally {
      r.stop();
    }
  });

  void it('heartbeat - never overlaps: the next put waits for the previous one', async () => {
    const kv = fakeKv();
    let inFlight = 0;
    let maxInFlight = 0;
    const put = kv.heartbeat.put.bind(kv.heartbeat);
    kv.heartbeat.put = async (k, v) => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await new Promise((res) => setTimeout(res, 25)); // slower than the 10 ms interval
      try {
        return await put(k, v);
      } finally {
        inFlight--;
      }
    };
    const r = record(heartbeatEvents$(makeDeps(kv), { workerId: 'worker-0' }));
    try {
      await waitFor(() => kv.heartbeat.calls.length >= 3, opts('three beats'));
      assert.equal(maxInFlight, 1);
    } finally {
      r.stop();
    }
  });

  void it('heartbeat - a failure streak is reported once and the beat goes on', async () => {
    const kv = fakeKv();
    let failing = true;
    kv.heartbeat.fault = (op) => (op === 'put' && failing ? new KvUnavailableError('put') : undefined);
    const r = record(heartbeatEvents$(makeDeps(kv), { workerId: 'worker-0' }));
    try {
      await waitFor(() => kv.heartbeat.calls.length >= 4, opts('several failed beats'));
      assert.equal(r.of('service.error').length, 1);
      const [e] = r.of('service.error');
      assert.equal(e?.source, 'heartbeat');
      assert.ok(e?.error instanceof KvUnavailableError);
      failing = false;
      await waitFor(() => kv.heartbeat.peek('heartbeat.worker-0'), opts('a beat after recovery'));
      failing = true;
      await waitFor(() => r.of('service.error').length === 2, opts('a second streak reported'));
      assert.equal(r.done, false);
      assert.equal(r.error, undefined);
    } finally {
      r.stop();
    }
  });

  void it('heartbeat - a put that hangs past the heartbeat TTL is abandoned and reported', async () => {
    const kv = fakeKv();
    let hang = true;
    kv.heartbeat.fault = (op) => (op === 'put' && hang ? 'hang' : undefined);
    const r = record(heartbeatEvents$(makeDeps(kv), { workerId: 'worker-0' }));
    try {
      await waitFor(() => r.of('service.error').length === 1, opts('the timeout reported'));
      assert.equal(r.of('service.error')[0]?.error.name, 'TimeoutError');
      hang = false;
      await waitFor(() => kv.heartbeat.peek('heartbeat.worker-0'), opts('beats resuming'));
    } finally {
      r.stop();
    }
  });

  void it('heartbeat - unsubscribing stops the beat and leaves the key (the teardown deletes it)', async () => {
    const kv = fakeKv();
    const r = record(heartbeatEvents$(makeDeps(kv), { workerId: 'worker-0' }));
    await waitFor(() => kv.heartbeat.calls.length >= 2, opts('two beats'));
    r.stop();
    const calls = kv.heartbeat.calls.length;
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(kv.heartbeat.calls.length, calls);
    assert.ok(kv.heartbeat.peek('heartbeat.worker-0'));
    assert.ok(kv.heartbeat.calls.every((c) => c.op === 'put'));
  });
});
