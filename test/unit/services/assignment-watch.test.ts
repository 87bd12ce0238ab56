import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { KvUnavailableError, MalformedValueError } from '../../../src/errors.js';
import { assignmentWatchEvents$ } from '../../../src/services/assignment-watch.service.js';
import { encodeAssignment } from '../../../src/wire/assignment.js';
import { waitFor } from '../../harness/wait.js';
import { closeStores, record, testKv } from './helpers.js';

const opts = (what: string) => ({ timeoutMs: 2_000, intervalMs: 2, what });
const value = (version: number, epoch?: number) =>
  encodeAssignment({ version, lifecycle: 'cold_start', partitions: [{ keys: ['p', '1'], weight: 100 }], epoch });

void describe('assignment-watch', () => {
  afterEach(closeStores);

  void it('assignment-watch - relays the stored value and every PUT, parsed', async () => {
    const kv = await testKv();
    await kv.assignment.set('assignment.worker-0', value(1, 5));
    await kv.assignment.set('assignment.worker-1', value(9, 5)); // someone else's
    const r = record(assignmentWatchEvents$(kv.deps, { workerId: 'worker-0' }));
    try {
      await waitFor(() => r.events.length === 1, opts('the initial value'));
      await kv.assignment.set('assignment.worker-0', '{"version":2,"lifecycle":"planned_scale","partitions":null}'); // Go-style, no epoch
      await waitFor(() => r.events.length === 2, opts('the update'));
      assert.deepEqual(r.events, [
        {
          type: 'assignment.received',
          assignment: { version: 1, epoch: 5, lifecycle: 'cold_start', partitions: [{ keys: ['p', '1'], weight: 100 }] },
        },
        { type: 'assignment.received', assignment: { version: 2, epoch: undefined, lifecycle: 'planned_scale', partitions: [] } },
      ]);
    } finally {
      r.stop();
    }
  });

  void it('assignment-watch - a malformed value is reported as service.error and skipped; DEL is ignored', async () => {
    const kv = await testKv();
    const r = record(assignmentWatchEvents$(kv.deps, { workerId: 'worker-0' }));
    try {
      await waitFor(() => kv.assignment.activeWatches === 1, opts('the watch'));
      await kv.assignment.set('assignment.worker-0', 'not json');
      await kv.assignment.set('assignment.worker-0', '{"version":-1}');
      await kv.assignment.remove('assignment.worker-0');
      await kv.assignment.set('assignment.worker-0', value(3));
      await waitFor(() => r.of('assignment.received').length === 1, opts('the good value'));
      assert.deepEqual(
        r.events.map((e) => e.type),
        ['service.error', 'service.error', 'assignment.received'],
      );
      for (const e of r.of('service.error')) {
        assert.equal(e.source, 'assignment-watch');
        assert.ok(e.error instanceof MalformedValueError);
        assert.equal(e.error.key, 'assignment.worker-0');
      }
      assert.equal(r.of('assignment.received')[0]?.assignment.version, 3);
    } finally {
      r.stop();
    }
  });

  void it('assignment-watch - a failed watch is reported once and resubscribed', async () => {
    const kv = await testKv();
    await kv.assignment.set('assignment.worker-0', value(1));
    kv.assignment.failWatches = 2;
    const r = record(assignmentWatchEvents$(kv.deps, { workerId: 'worker-0' }));
    try {
      await waitFor(() => r.of('assignment.received').length === 1, opts('the value after resubscribing'));
      assert.equal(kv.assignment.watchSubscriptions, 3);
      assert.equal(r.of('service.error').length, 1);
      assert.ok(r.of('service.error')[0]?.error instanceof KvUnavailableError);
      assert.equal(r.error, undefined);
    } finally {
      r.stop();
    }
  });

  void it('assignment-watch - unsubscribing releases the watch', async () => {
    const kv = await testKv();
    const r = record(assignmentWatchEvents$(kv.deps, { workerId: 'worker-0' }));
    await waitFor(() => kv.assignment.activeWatches === 1, opts('the watch'));
    r.stop();
    assert.equal(kv.assignment.activeWatches, 0);
  });
});
