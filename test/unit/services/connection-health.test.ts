import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { connectionHealthEvents$ } from '../../../src/services/connection-health.service.js';
import { Subject } from 'rxjs';
import type { ConnectionStatus, KvStore } from '../../../src/adapters/kv-port.js';
import { waitFor } from '../../harness/wait.js';
import { closeStores, delay, record, testKv } from './helpers.js';

const opts = (what: string) => ({ timeoutMs: 2_000, intervalMs: 2, what });
const nextTick = (): Promise<void> => new Promise((res) => setImmediate(res));

/** The service over a hand-driven status stream (enter 100 ms, exit 100 ms). */
async function setup() {
  const { deps } = await testKv();
  const status = new Subject<ConnectionStatus>();
  const store: KvStore = { features: deps.store.features, openBucket: (spec) => deps.store.openBucket(spec), status$: status };
  const r = record(connectionHealthEvents$({ ...deps, store }));
  return { r, status };
}

void describe('connection-health', () => {
  afterEach(closeStores);

  void it('connection-health - down for enterThreshold → lost; up for exitThreshold → restored', async () => {
    const { r, status } = await setup();
    try {
      const t0 = performance.now();
      status.next({ type: 'disconnect' });
      status.next({ type: 'reconnecting' }); // still down: does not restart the timer
      await waitFor(() => r.events.length === 1, opts('connection.lost'));
      assert.ok(performance.now() - t0 >= 95);
      const t1 = performance.now();
      status.next({ type: 'reconnect' });
      await waitFor(() => r.events.length === 2, opts('connection.restored'));
      assert.ok(performance.now() - t1 >= 95);
      assert.deepEqual(r.events, [{ type: 'connection.lost' }, { type: 'connection.restored' }]);
    } finally {
      r.stop();
    }
  });

  void it('connection-health - follows the store: offline → lost, online → restored', async () => {
    const kv = await testKv();
    const r = record(connectionHealthEvents$(kv.deps));
    try {
      kv.store.setOnline(false);
      await waitFor(() => r.events.length === 1, opts('connection.lost'));
      kv.store.setOnline(true);
      await waitFor(() => r.events.length === 2, opts('connection.restored'));
      assert.deepEqual(r.events, [{ type: 'connection.lost' }, { type: 'connection.restored' }]);
    } finally {
      r.stop();
    }
  });

  void it('connection-health - a short outage is not reported at all', async () => {
    const { r, status } = await setup();
    try {
      status.next({ type: 'disconnect' });
      await nextTick(); // the enter timer is running
      status.next({ type: 'reconnect' });
      status.next({ type: 'error', error: new Error('noise') });
      await delay(250); // past both thresholds
      assert.deepEqual(r.events, []);
    } finally {
      r.stop();
    }
  });

  void it('connection-health - flip-flops restart the timers; restored needs exitThreshold of continuous uptime', async () => {
    const { r, status } = await setup();
    try {
      status.next({ type: 'disconnect' });
      await waitFor(() => r.events.length === 1, opts('connection.lost'));
      status.next({ type: 'reconnect' });
      await nextTick(); // the exit timer is running
      status.next({ type: 'disconnect' }); // down again before exitThreshold: no restored, no second lost
      await delay(250);
      assert.deepEqual(r.events, [{ type: 'connection.lost' }]);
      status.next({ type: 'reconnect' });
      await waitFor(() => r.events.length === 2, opts('connection.restored'));
      assert.deepEqual(r.events, [{ type: 'connection.lost' }, { type: 'connection.restored' }]);
    } finally {
      r.stop();
    }
  });

  void it('connection-health - a closed connection counts as down', async () => {
    const { r, status } = await setup();
    try {
      status.complete();
      await waitFor(() => r.events.length === 1, opts('connection.lost'));
      assert.deepEqual(r.events, [{ type: 'connection.lost' }]);
    } finally {
      r.stop();
    }
  });

  void it('connection-health - unsubscribing cancels a pending timer', async () => {
    const { r, status } = await setup();
    status.next({ type: 'disconnect' });
    r.stop();
    await delay(150);
    assert.deepEqual(r.events, []);
    assert.equal(status.observed, false);
  });
});
