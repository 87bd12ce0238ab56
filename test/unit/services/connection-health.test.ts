import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectionHealthEvents$ } from '../../../src/services/connection-health.service.js';
import { waitFor } from '../../harness/wait.js';
import { delay, fakeKv, makeDeps, record } from './helpers.js';

const opts = (what: string) => ({ timeoutMs: 2_000, intervalMs: 2, what });

function setup() {
  const kv = fakeKv();
  const r = record(connectionHealthEvents$(makeDeps(kv))); // enter 60 ms, exit 60 ms
  const status = kv.store.statusSubject;
  return { kv, r, status };
}

void describe('connection-health', () => {
  void it('connection-health - down for enterThreshold → lost; up for exitThreshold → restored', async () => {
    const { r, status } = setup();
    try {
      const t0 = performance.now();
      status.next({ type: 'disconnect' });
      status.next({ type: 'reconnecting' }); // still down: does not restart the timer
      await waitFor(() => r.events.length === 1, opts('connection.lost'));
      assert.ok(performance.now() - t0 >= 55);
      const t1 = performance.now();
      status.next({ type: 'reconnect' });
      await waitFor(() => r.events.length === 2, opts('connection.restored'));
      assert.ok(performance.now() - t1 >= 55);
      assert.deepEqual(r.events, [{ type: 'connection.lost' }, { type: 'connection.restored' }]);
    } finally {
      r.stop();
    }
  });

  void it('connection-health - a short outage is not reported at all', async () => {
    const { r, status } = setup();
    try {
      status.next({ type: 'disconnect' });
      await delay(20);
      status.next({ type: 'reconnect' });
      status.next({ type: 'error', error: new Error('noise') });
      await delay(150); // past both thresholds
      assert.deepEqual(r.events, []);
    } finally {
      r.stop();
    }
  });

  void it('connection-health - flip-flops restart the timers; restored needs exitThreshold of continuous uptime', async () => {
    const { r, status } = setup();
    try {
      status.next({ type: 'disconnect' });
      await waitFor(() => r.events.length === 1, opts('connection.lost'));
      status.next({ type: 'reconnect' });
      await delay(20);
      status.next({ type: 'disconnect' }); // down again before exitThreshold: no restored, no second lost
      await delay(100);
      assert.deepEqual(r.events, [{ type: 'connection.lost' }]);
      status.next({ type: 'reconnect' });
      await waitFor(() => r.events.length === 2, opts('connection.restored'));
      assert.deepEqual(r.events, [{ type: 'connection.lost' }, { type: 'connection.restored' }]);
    } finally {
      r.stop();
    }
  });

  void it('connection-health - a closed connection counts as down', async () => {
    const { r, status } = setup();
    try {
      status.complete();
      await waitFor(() => r.events.length === 1, opts('connection.lost'));
      assert.deepEqual(r.events, [{ type: 'connection.lost' }]);
    } finally {
      r.stop();
    }
  });

  void it('connection-health - unsubscribing cancels a pending timer', async () => {
    const { r, status } = setup();
    status.next({ type: 'disconnect' });
    r.stop();
    await delay(100);
    assert.deepEqual(r.events, []);
    assert.equal(status.observed, false);
  });
});
