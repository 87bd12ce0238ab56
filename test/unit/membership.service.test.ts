import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Observable, type Subscription } from 'rxjs';
import { createMemoryKvStore, type MemoryKvStore } from '../../src/adapters/memory-kv.js';
import type { KvBucket } from '../../src/adapters/kv-port.js';
import { resolveConfig } from '../../src/config.js';
import { KvUnavailableError } from '../../src/errors.js';
import type { MembershipEvent } from '../../src/machines/calculator.events.js';
import { openPartiBuckets } from '../../src/services/buckets.js';
import type { PartiBuckets, ServiceDeps } from '../../src/services/deps.js';
import { membershipEvents$ } from '../../src/services/membership.service.js';
import { waitFor } from '../harness/wait.js';
import { testServiceDeps } from './support/service-deps.js';


const HB_TTL = 80;
const config = resolveConfig({
  heartbeatInterval: 20,
  heartbeatTtl: HB_TTL,
  workerIdTtl: 200,
  emergencyGracePeriod: 30,
  coldStartWindow: 100,
  plannedScaleWindow: 100,
  minRebalanceInterval: 10,
});

const opts = (what: string) => ({ timeoutMs: 3_000, intervalMs: 5, what });

interface Setup {
  readonly store: MemoryKvStore;
  readonly buckets: PartiBuckets;
  readonly deps: ServiceDeps;
}

async function setup(expiryMarkers: boolean, wrap?: (b: KvBucket) => KvBucket): Promise<Setup> {
  const store = createMemoryKvStore({ features: { expiryMarkers } });
  const opened = await openPartiBuckets(store, config);
  const buckets = wrap ? { ...opened, heartbeat: wrap(opened.heartbeat) } : opened;
  const deps = testServiceDeps(
    { config, store, buckets },
    { status: () => ({ state: 'Stable', leader: true, version: undefined }) },
  );
  return { store, buckets, deps };
}

function collect(s: Setup): { events: MembershipEvent[]; sub: Subscription } & Disposable {
  const events: MembershipEvent[] = [];
  const sub = membershipEvents$(s.deps, { workerId: 'worker-0' }).subscribe({
    next: (e) => events.push(e),
    error: (err: unknown) => assert.fail(`membership observable errored: ${String(err)}`),
  });
  return {
    events,
    sub,
    [Symbol.dispose]: () => {
      sub.unsubscribe();
      void s.store.close();
    },
  };
}

const snapshots = (events: MembershipEvent[]) =>
  events.filter((e): e is Extract<MembershipEvent, { type: 'membership.snapshot' }> => e.type === 'membership.snapshot');

void test('membership - first a snapshot of live heartbeats, then joins, leaves and expiries from the watch', async () => {
  const s = await setup(true);
  const hb = s.buckets.heartbeat;
  await hb.put('heartbeat.worker-1', '{}');
  await hb.put('heartbeat.worker-2', '{}');
  await hb.put('heartbeat.worker-9', '{}');
  await hb.delete('heartbeat.worker-9');
  using c = collect(s);
  await waitFor(() => c.events.length > 0, opts('the first snapshot'));
  assert.deepEqual(c.events[0], { type: 'membership.snapshot', workers: ['worker-1', 'worker-2'] });

  await hb.put('heartbeat.worker-3', '{}');
  await hb.put('heartbeat.worker-3', '{}'); // a second beat of a known worker: nothing
  await hb.put('heartbeat.worker-1', '{}');
  await hb.delete('heartbeat.worker-2');
  await waitFor(() => c.events.some((e) => e.type === 'membership.left'), opts('the leave'));
  const live = c.events.filter((e) => e.type !== 'membership.snapshot');
  assert.deepEqual(live, [
    { type: 'membership.joined', workerId: 'worker-3' },
    { type: 'membership.left', workerId: 'worker-2' },
  ]);

  // Keep worker-1 beating; worker-3 stops and its heartbeat expires (a PURGE marker).
  const beat = setInterval(() => void hb.put('heartbeat.worker-1', '{}'), 20);
  try {
    await waitFor(() => c.events.some((e) => e.type === 'membership.expired'), opts('the expiry'));
  } finally {
    clearInterval(beat);
  }
  const expired = c.events.filter((e) => e.type === 'membership.expired');
  assert.deepEqual(expired, [{ type: 'membership.expired', workerId: 'worker-3' }]);
});

void test('membership - without expiry markers, a periodic listing reveals an expired heartbeat', async () => {
  const s = await setup(false);
  const hb = s.buckets.heartbeat;
  assert.equal(hb.expiryObservable, false);
  await hb.put('heartbeat.worker-1', '{}');
  await hb.put('heartbeat.worker-2', '{}');
  const beat = setInterval(() => void hb.put('heartbeat.worker-1', '{}'), 20);
  try {
    using c = collect(s);
    await waitFor(() => snapshots(c.events).length > 0, opts('the first snapshot'));
    assert.deepEqual(snapshots(c.events)[0]?.workers, ['worker-1', 'worker-2']);
    // worker-2 expires silently; a later listing (every TTL/2) no longer contains it.
    await waitFor(
      () => snapshots(c.events).some((e) => e.workers.length === 1 && e.workers[0] === 'worker-1'),
      opts('a listing without worker-2'),
    );
    assert.equal(c.events.filter((e) => e.type === 'membership.expired' || e.type === 'membership.left').length, 0);
  } finally {
    clearInterval(beat);
  }
});

void test('membership - with expiry markers it still lists periodically, at a slower pace', async () => {
  const s = await setup(true);
  using c = collect(s);
  await waitFor(() => snapshots(c.events).length >= 3, opts('three listings'));
});

void test('membership - a failed listing is retried with backoff, the observable stays up', async () => {
  let failures = 2;
  let listings = 0;
  const s = await setup(true, (b) => {
    const wrapped = Object.create(b) as KvBucket;
    wrapped.keys = async (filter?: string) => {
      listings++;
      if (failures > 0) {
        failures--;
        throw new KvUnavailableError('keys');
      }
      return b.keys(filter);
    };
    return wrapped;
  });
  await s.buckets.heartbeat.put('heartbeat.worker-1', '{}');
  const beat = setInterval(() => void s.buckets.heartbeat.put('heartbeat.worker-1', '{}'), 20);
  try {
    using c = collect(s);
    await waitFor(() => snapshots(c.events).length > 0, opts('a snapshot after two failed listings'));
    assert.equal(listings, 3);
    assert.deepEqual(snapshots(c.events)[0]?.workers, ['worker-1']);
  } finally {
    clearInterval(beat);
  }
});

void test('membership - unsubscribing stops the watch and every timer', async () => {
  let active = 0;
  let listings = 0;
  const s = await setup(true, (b) => {
    const wrapped = Object.create(b) as KvBucket;
    wrapped.keys = (filter?: string) => {
      listings++;
      return b.keys(filter);
    };
    wrapped.watch = (o) => {
      const inner = b.watch(o);
      return new Observable((sub) => {
        active++;
        const s2 = inner.subscribe(sub);
        return () => {
          active--;
          s2.unsubscribe();
        };
      });
    };
    return wrapped;
  });
  const events: MembershipEvent[] = [];
  const sub = membershipEvents$(s.deps, { workerId: 'worker-0' }).subscribe((e) => events.push(e));
  await waitFor(() => events.length > 0, opts('the first snapshot'));
  assert.equal(active, 1);
  sub.unsubscribe();
  assert.equal(active, 0);
  const seen = listings;
  await s.buckets.heartbeat.put('heartbeat.worker-5', '{}');
  await new Promise((r) => setTimeout(r, HB_TTL * 2)); // nothing may happen: no listing, no event
  assert.equal(listings, seen);
  assert.equal(events.filter((e) => e.type !== 'membership.snapshot').length, 0);
  await s.store.close();
});

void test('membership - a listing is merged with watch changes that arrive while it is in flight', async () => {
  let hold: (() => Promise<void>) | undefined;
  const s = await setup(true, (b) => {
    const wrapped = Object.create(b) as KvBucket;
    wrapped.keys = async (filter?: string) => {
      const stale = await b.keys(filter);
      await hold?.(); // changes happen after the server answered, before the reply is read
      return stale;
    };
    return wrapped;
  });
  const hb = s.buckets.heartbeat;
  await hb.put('heartbeat.worker-1', '{}');
  await hb.put('heartbeat.worker-2', '{}');
  hold = async () => {
    hold = undefined;
    await hb.put('heartbeat.worker-3', '{}');
    await hb.delete('heartbeat.worker-2');
    await new Promise((r) => setTimeout(r, 5)); // let the watch deliver them
  };
  using c = collect(s);
  await waitFor(() => snapshots(c.events).length > 0, opts('the first snapshot'));
  assert.deepEqual(c.events[0], { type: 'membership.snapshot', workers: ['worker-1', 'worker-3'] });
});
