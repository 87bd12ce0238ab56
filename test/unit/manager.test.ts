// The Manager facade on the in-memory KV store: option checks, the start/stop contract and its
// typed errors. The same contract runs against real NATS in test/integration/concurrency.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { createMemoryKvStore, type MemoryKvStore } from '../../src/adapters/memory-kv.js';
import { timingPresets, type PartiConfigInput } from '../../src/config.js';
import {
  AbortError,
  AlreadyStartedError,
  IdPoolExhaustedError,
  InvalidConfigError,
  NotStartedError,
  TimeoutError,
} from '../../src/errors.js';
import { createManager, type Manager, type ManagerOptions } from '../../src/manager.js';
import { staticSource } from '../../src/sources/static.js';
import type { WorkerState } from '../../src/types.js';

const partitions = Array.from({ length: 6 }, (_, i) => ({ keys: [`partition-${i}`], weight: 100 }));
const stores: MemoryKvStore[] = [];
const managers: Manager[] = [];

function manager(config: PartiConfigInput = {}, store?: MemoryKvStore): Manager {
  const s = store ?? createMemoryKvStore();
  if (!store) stores.push(s);
  const m = createManager({ store: s, source: staticSource(partitions), config: { ...timingPresets.test, ...config } });
  managers.push(m);
  return m;
}

void describe('manager', () => {
  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.stop()));
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  void it('manager - options are checked at creation with InvalidConfigError naming the field', () => {
    const source = staticSource(partitions);
    const field = (options: unknown) => {
      try {
        createManager(options as ManagerOptions);
      } catch (e) {
        assert.ok(e instanceof InvalidConfigError);
        return e.field;
      }
      return assert.fail('accepted');
    };
    assert.equal(field({ source }), 'connection');
    assert.equal(field({ store: createMemoryKvStore() }), 'source');
    assert.equal(field({ store: createMemoryKvStore(), source, strategy: {} }), 'strategy');
    assert.equal(field({ store: createMemoryKvStore(), source, config: { heartbeatTtl: 10 } }), 'heartbeatTtl');
  });

  void it('manager - a single worker starts, leads, holds every partition and stops cleanly', async () => {
    const m = manager();
    const states: WorkerState[] = [];
    m.state$.subscribe((s) => states.push(s));
    await m.start();
    assert.equal(m.workerId, 'worker-0');
    assert.equal(m.isLeader, true);
    assert.equal(m.assignment?.partitions.length, partitions.length);
    await m.stop();
    assert.equal(m.state, 'Shutdown');
    assert.deepEqual(states.slice(0, 4), ['Init', 'Claiming', 'Election', 'WaitingAssignment']);
    assert.equal(states.at(-1), 'Shutdown');
  });

  void it('manager - a second start() rejects with AlreadyStartedError', async () => {
    const m = manager();
    const first = m.start();
    await assert.rejects(m.start(), AlreadyStartedError);
    await first;
  });

  void it('manager - stop() before start() resolves and start() afterwards rejects with NotStartedError', async () => {
    const m = manager();
    await m.stop();
    await assert.rejects(m.start(), NotStartedError);
    await assert.rejects(m.refreshPartitions(), NotStartedError);
  });

  void it('manager - start() with an aborted signal rejects with AbortError and stop() still resolves', async () => {
    const m = manager();
    await assert.rejects(m.start({ signal: AbortSignal.abort() }), (e) => e instanceof AbortError && e.name === 'AbortError');
    await m.stop();
  });

  void it('manager - an exhausted ID pool rejects start() with IdPoolExhaustedError', async () => {
    const store = createMemoryKvStore();
    stores.push(store);
    const pool = { workerIdMin: 0, workerIdMax: 0 };
    await manager(pool, store).start();
    await assert.rejects(manager(pool, store).start(), IdPoolExhaustedError);
  });

  void it('manager - waitState rejects with TimeoutError, AbortError, and NotStartedError once shut down', async () => {
    const m = manager();
    await assert.rejects(m.waitState('Stable', { timeoutMs: 20 }), TimeoutError);
    const ac = new AbortController();
    const aborted = m.waitState('Stable', { signal: ac.signal });
    ac.abort();
    await assert.rejects(aborted, AbortError);
    await m.start();
    const never = m.waitState('Emergency');
    await m.stop();
    await assert.rejects(never, NotStartedError);
  });
});

void describe('manager resources', () => {
  void it('manager - nothing keeps running after stop(): no timers or other handles left behind', async () => {
    const count = () => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap').length;
    const before = count();
    const store = createMemoryKvStore();
    const m = createManager({ store, source: staticSource(partitions), config: timingPresets.test });
    await m.start();
    assert.ok(count() > before, 'a running worker holds timers');
    await m.stop();
    await store.close();
    // Let already-fired callbacks drain; a leaked interval or watch timer would stay.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(count(), before, `left behind: ${process.getActiveResourcesInfo().join(', ')}`);
  });
});

void describe('manager refresh', () => {
  void it('manager - refreshPartitions() waiting on a publish settles at once when the worker stops', async () => {
    let calls = 0;
    // The first listing serves start(); the refresh's listing never returns.
    const source = {
      listPartitions: (): Promise<typeof partitions> => (++calls === 1 ? Promise.resolve(partitions) : new Promise(() => {})),
    };
    const store = createMemoryKvStore();
    const m = createManager({ store, source, config: { ...timingPresets.test, coldStartWindow: 60_000, plannedScaleWindow: 60_000, minRebalanceInterval: 100 } });
    try {
      await m.start();
      const refresh = m.refreshPartitions({ timeoutMs: 20_000 });
      const t0 = Date.now();
      await m.stop();
      await assert.rejects(refresh, NotStartedError);
      assert.ok(Date.now() - t0 < 5_000, 'settled by the stop, not by its 20 s timeout');
    } finally {
      await m.stop();
      await store.close();
    }
  });
});
