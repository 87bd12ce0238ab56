import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Subject } from 'rxjs';
import { assign, createActor, fromEventObservable, setup, waitFor as waitForSnapshot } from 'xstate';
import { createMemoryKvStore, type MemoryKvStore } from '../../src/adapters/memory-kv.js';
import type { KvBucket } from '../../src/adapters/kv-port.js';
import { resolveConfig } from '../../src/config.js';
import {
  AbortError,
  InvalidPartitionError,
  KvUnavailableError,
  PartitionSourceError,
  StrategyError,
  isPartiError,
} from '../../src/errors.js';
import type { CalculatorToParentEvent, MembershipEvent, RebalanceInput } from '../../src/machines/calculator.events.js';
import { calculatorMachine } from '../../src/machines/calculator.machine.js';
import { createAssignmentDiscovery, discoverAssignments } from '../../src/services/assignment-discovery.service.js';
import { openPartiBuckets } from '../../src/services/buckets.js';
import type { PartiBuckets, ServiceDeps } from '../../src/services/deps.js';
import { createRebalance, rebalance } from '../../src/services/rebalance.service.js';
import type { AssignmentMap, AssignmentStrategy, Logger, Partition, PartitionSource } from '../../src/types.js';
import { decodeAssignment } from '../../src/wire/assignment.js';
import { testServiceDeps } from './support/service-deps.js';
import { silentLogger } from '../../src/logger.js';


const config = resolveConfig({});
const parts = (n: number): Partition[] => Array.from({ length: n }, (_, i) => ({ keys: [`partition-${i}`], weight: 100 }));

/** Deals partitions round-robin over the sorted workers; records what it was given. */
function dealer(): AssignmentStrategy & { seen: { previous: ReadonlyMap<string, readonly Partition[]> | undefined }[] } {
  const seen: { previous: ReadonlyMap<string, readonly Partition[]> | undefined }[] = [];
  return {
    name: 'dealer',
    version: 1,
    seen,
    assign: ({ workers, partitions, previous }) => {
      seen.push({ previous });
      const ws = [...workers].sort();
      const out: AssignmentMap = new Map(ws.map((w) => [w, []]));
      partitions.forEach((p, i) => out.get(ws[i % ws.length]!)!.push(p));
      return out;
    },
  };
}

interface World extends AsyncDisposable {
  readonly store: MemoryKvStore;
  readonly buckets: PartiBuckets;
  readonly deps: ServiceDeps;
  readonly warnings: { obj: object; msg: string | undefined }[];
}

async function world(
  opts: { source?: PartitionSource; strategy?: AssignmentStrategy; assignment?: (b: KvBucket) => KvBucket } = {},
): Promise<World> {
  const store = createMemoryKvStore();
  const opened = await openPartiBuckets(store, config);
  const buckets = opts.assignment ? { ...opened, assignment: opts.assignment(opened.assignment) } : opened;
  const warnings: { obj: object; msg: string | undefined }[] = [];
  const logger: Logger = { ...silentLogger, warn: (obj, msg) => warnings.push({ obj, msg }), child: () => logger };
  const deps = testServiceDeps(
    { config, store, buckets },
    {
      source: opts.source ?? { listPartitions: async () => parts(5) },
      strategy: opts.strategy ?? dealer(),
      logger,
      status: () => ({ state: 'Stable', leader: true, version: undefined }),
    },
  );
  return { store, buckets, deps, warnings, [Symbol.asyncDispose]: () => store.close() };
}

const input = (over: Partial<RebalanceInput> = {}): RebalanceInput => ({
  workers: ['worker-1', 'worker-0'],
  lifecycle: 'planned_scale',
  version: 8,
  epoch: 42,
  previous: {},
  ...over,
});

async function stored(b: KvBucket, workerId: string) {
  const e = await b.get(`assignment.${workerId}`);
  return e === null ? null : decodeAssignment(e.key, e.value);
}

void test('rebalance - publishes every worker with the version, lifecycle and epoch', async () => {
  await using w = await world();
  const out = await rebalance(w.deps, input(), new AbortController().signal);
  assert.equal(out.version, 8);
  assert.deepEqual(Object.keys(out.assignments), ['worker-0', 'worker-1']);
  const a0 = await stored(w.buckets.assignment, 'worker-0');
  const a1 = await stored(w.buckets.assignment, 'worker-1');
  assert.deepEqual(a0, {
    version: 8,
    lifecycle: 'planned_scale',
    epoch: 42,
    partitions: [parts(5)[0], parts(5)[2], parts(5)[4]],
  });
  assert.deepEqual(a1?.partitions.map((p) => p.keys[0]), ['partition-1', 'partition-3']);
  assert.deepEqual(out.assignments['worker-1'], a1?.partitions);
  // Wire format: Go's field order, epoch last.
  const raw = (await w.buckets.assignment.get('assignment.worker-1'))?.value ?? '';
  assert.match(raw, /^\{"version":8,"lifecycle":"planned_scale","partitions":\[.*\],"epoch":42\}$/);
});

void test('rebalance - passes the previous assignment to the strategy', async () => {
  const strategy = dealer();
  await using w = await world({ strategy });
  const previous = { 'worker-0': [parts(1)[0]!] };
  await rebalance(w.deps, input({ previous }), new AbortController().signal);
  assert.deepEqual([...(strategy.seen[0]?.previous ?? new Map()).entries()], [['worker-0', [parts(1)[0]]]]);
});

void test('rebalance - deletes the assignments of workers that are gone, best effort', async () => {
  await using w = await world({
    assignment: (b) => {
      const wrapped = Object.create(b) as KvBucket;
      wrapped.delete = async (key, o) => {
        if (key === 'assignment.worker-7') throw new KvUnavailableError('delete');
        return b.delete(key, o);
      };
      return wrapped;
    },
  });
  const a = w.buckets.assignment;
  await a.put('assignment.worker-5', '{"version":3,"lifecycle":"x","partitions":[]}');
  await a.put('assignment.worker-7', '{"version":3,"lifecycle":"x","partitions":[]}');
  await a.put('other-key', 'kept');
  await rebalance(w.deps, input(), new AbortController().signal);
  assert.deepEqual(await a.keys(), ['assignment.worker-0', 'assignment.worker-1', 'assignment.worker-7', 'other-key']);
  assert.equal(w.warnings.length, 1, 'the failed delete is logged');
});

void test('rebalance - a throwing source becomes PartitionSourceError with the cause', async () => {
  const cause = new Error('db down');
  await using w = await world({
    source: {
      listPartitions: async () => {
        throw cause;
      },
    },
  });
  await assert.rejects(rebalance(w.deps, input(), new AbortController().signal), (err: unknown) => {
    assert.ok(err instanceof PartitionSourceError);
    assert.equal(err.cause, cause);
    assert.equal(err.retriable, true);
    return true;
  });
  assert.deepEqual(await w.buckets.assignment.keys(), [], 'nothing written');
});

void test('rebalance - a throwing strategy becomes StrategyError; a PartiError it throws is kept', async () => {
  const boom = new TypeError('bug');
  await using w1 = await world({
    strategy: {
      name: 'buggy',
      version: 1,
      assign: () => {
        throw boom;
      },
    },
  });
  await assert.rejects(rebalance(w1.deps, input(), new AbortController().signal), (err: unknown) => {
    assert.ok(err instanceof StrategyError);
    assert.equal(err.cause, boom);
    return true;
  });

  const invalid = new InvalidPartitionError('duplicate id partition-1');
  await using w2 = await world({
    strategy: {
      name: 'strict',
      version: 1,
      assign: () => {
        throw invalid;
      },
    },
  });
  await assert.rejects(rebalance(w2.deps, input(), new AbortController().signal), (err: unknown) => err === invalid);
});

void test('rebalance - an invalid placement is a StrategyError and publishes nothing', async () => {
  const cases: [string, (ws: readonly string[], ps: readonly Partition[]) => AssignmentMap][] = [
    ['a worker missing', (ws, ps) => new Map([[ws[0]!, [...ps]]])],
    ['a partition twice', (ws, ps) => new Map(ws.map((w) => [w, [...ps]]))],
    ['a partition missing', (ws, ps) => new Map(ws.map((w, i) => [w, i === 0 ? ps.slice(1) : []]))],
    ['an unknown worker', (ws, ps) => new Map([...ws.map((w): [string, Partition[]] => [w, []]), ['worker-9', [...ps]]])],
    ['an unknown partition', (ws, ps) => new Map(ws.map((w, i) => [w, i === 0 ? [...ps, { keys: ['zz'], weight: 1 }] : []]))],
  ];
  for (const [label, assign] of cases) {
    await using w = await world({
      strategy: { name: 'bad', version: 1, assign: ({ workers, partitions }) => assign(workers, partitions) },
    });
    await assert.rejects(
      rebalance(w.deps, input(), new AbortController().signal),
      (err: unknown) => isPartiError(err, 'STRATEGY_FAILED'),
      label,
    );
    assert.deepEqual(await w.buckets.assignment.keys(), [], `${label}: nothing written`);
  }
});

void test('rebalance - stops writing as soon as its signal aborts', async () => {
  const ac = new AbortController();
  const puts: string[] = [];
  let armed = false;
  await using w = await world({
    assignment: (b) => {
      const wrapped = Object.create(b) as KvBucket;
      wrapped.put = async (key, value) => {
        if (!armed) return b.put(key, value);
        puts.push(key);
        const rev = await b.put(key, value);
        ac.abort(); // leadership lost right after the first write
        return rev;
      };
      return wrapped;
    },
  });
  await w.buckets.assignment.put('assignment.worker-5', '{"version":3,"lifecycle":"x","partitions":[]}');
  armed = true;
  await assert.rejects(
    rebalance(w.deps, input({ workers: ['worker-0', 'worker-1', 'worker-2'] }), ac.signal),
    (err: unknown) => err instanceof AbortError,
  );
  assert.deepEqual(puts, ['assignment.worker-0']);
  assert.notEqual(await w.buckets.assignment.get('assignment.worker-5'), null, 'no stale deletion either');
});

void test('rebalance - a failed write rejects with the adapter error', async () => {
  await using w = await world({
    assignment: (b) => {
      const wrapped = Object.create(b) as KvBucket;
      wrapped.put = async () => {
        throw new KvUnavailableError('put');
      };
      return wrapped;
    },
  });
  await assert.rejects(rebalance(w.deps, input(), new AbortController().signal), KvUnavailableError);
});

// --- assignment discovery ----------------------------------------------------------------------

void test('discovery - finds the highest version and each worker partitions, skipping malformed values', async () => {
  await using w = await world();
  const a = w.buckets.assignment;
  await a.put('assignment.worker-0', '{"version":4,"lifecycle":"planned_scale","partitions":[{"keys":["p0"],"weight":1}],"epoch":3}');
  await a.put('assignment.worker-1', '{"version":5,"lifecycle":"planned_scale","partitions":[{"keys":["p1"],"weight":1}]}');
  await a.put('assignment.worker-2', 'not json');
  await a.put('assignment.worker-3', '{"version":"x"}');
  await a.put('assignment.worker-4', '{"version":99,"lifecycle":"x","partitions":[]}');
  await a.delete('assignment.worker-4');
  const found = await discoverAssignments(w.deps, new AbortController().signal);
  assert.equal(found.maxVersion, 5);
  assert.deepEqual(found.previous, {
    'worker-0': [{ keys: ['p0'], weight: 1 }],
    'worker-1': [{ keys: ['p1'], weight: 1 }],
  });
  assert.deepEqual(
    w.warnings.map((x) => (x.obj as { key?: string }).key),
    ['assignment.worker-2', 'assignment.worker-3'],
  );
});

void test('discovery - an empty bucket yields version 0 and no previous assignment', async () => {
  await using w = await world();
  assert.deepEqual(await discoverAssignments(w.deps, new AbortController().signal), { maxVersion: 0, previous: {} });
});

void test('discovery - a failing listing rejects (the calculator retries)', async () => {
  await using w = await world();
  w.store.setOnline(false);
  await assert.rejects(discoverAssignments(w.deps, new AbortController().signal), KvUnavailableError);
});

// --- the calculator with the real discovery and rebalance services ------------------------------

void test('rebalance - the calculator publishes through the real services and continues the stored version', async () => {
  await using w = await world();
  await w.buckets.assignment.put('assignment.worker-3', '{"version":11,"lifecycle":"emergency","partitions":[]}');
  const membership = new Subject<MembershipEvent>();
  const published: CalculatorToParentEvent[] = [];
  const calc = calculatorMachine.provide({
    actors: {
      membershipWatch: fromEventObservable(() => membership),
      discoverAssignments: createAssignmentDiscovery(w.deps),
      rebalance: createRebalance(w.deps),
    },
  });
  const parent = setup({
    types: { events: {} as CalculatorToParentEvent, context: {} as { published: number } },
    actors: { calc },
  }).createMachine({
    context: { published: 0 },
    invoke: {
      src: 'calc',
      input: {
        workerId: 'worker-0',
        epoch: 9,
        timings: {
          coldStartWindow: 60_000,
          plannedScaleWindow: 60_000,
          minRebalanceInterval: 10,
          emergencyGracePeriod: 1_000,
          heartbeatTtl: 2_000,
          restartDetectionRatio: 0.5,
          rebalanceRetryBase: 10,
          rebalanceRetryMax: 100,
          recoveryGracePeriod: 1_000,
        },
      },
    },
    on: {
      'calculator.published': {
        actions: [({ event }) => published.push(event), assign({ published: ({ context }) => context.published + 1 })],
      },
    },
  });
  const actor = createActor(parent).start();
  try {
    membership.next({ type: 'membership.snapshot', workers: ['worker-0', 'worker-1'] });
    await waitForSnapshot(actor, () => published.length === 1, { timeout: 2_000 });
    assert.deepEqual(published[0], {
      type: 'calculator.published',
      version: 12,
      lifecycle: 'cold_start_immediate',
      workers: ['worker-0', 'worker-1'],
    });
    assert.deepEqual(await w.buckets.assignment.keys(), ['assignment.worker-0', 'assignment.worker-1']);
    assert.equal((await stored(w.buckets.assignment, 'worker-1'))?.epoch, 9);

    membership.next({ type: 'membership.left', workerId: 'worker-1' });
    await waitForSnapshot(actor, () => published.length === 2, { timeout: 2_000 });
    assert.equal((await stored(w.buckets.assignment, 'worker-0'))?.version, 13);
    assert.equal((await stored(w.buckets.assignment, 'worker-0'))?.lifecycle, 'graceful_leave');
    assert.equal(await w.buckets.assignment.get('assignment.worker-1'), null);
  } finally {
    actor.stop();
  }
});
