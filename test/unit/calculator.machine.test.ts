import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Subject } from 'rxjs';
import { SimulatedClock, createActor, fromEventObservable, fromPromise, setup, type AnyActorRef } from 'xstate';
import {
  applyMembership,
  calculatorMachine,
  followUp,
  retryDelay,
  shouldUseColdStartWindow,
  type CalculatorContext,
} from '../../src/machines/calculator.machine.js';
import type {
  CalculatorTimings,
  CalculatorToParentEvent,
  DiscoveredAssignments,
  MembershipEvent,
  RebalanceInput,
  RebalanceOutput,
} from '../../src/machines/calculator.events.js';
import type { CalculatorState, Lifecycle } from '../../src/types.js';

const SELF = 'worker-0';

const TIMINGS: CalculatorTimings = {
  coldStartWindow: 1_000,
  plannedScaleWindow: 500,
  minRebalanceInterval: 100,
  emergencyGracePeriod: 300,
  heartbeatTtl: 600,
  restartDetectionRatio: 0.5,
  rebalanceRetryBase: 100,
  rebalanceRetryMax: 400,
  recoveryGracePeriod: 2_000,
};

interface Call {
  readonly at: number;
  readonly input: RebalanceInput;
}

interface Published {
  readonly at: number;
  readonly version: number;
  readonly lifecycle: Lifecycle;
  readonly workers: readonly string[];
}

/** Lets promise-based fakes settle and XState process what they send. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Runs the calculator as the child of a tiny parent machine (as the worker machine does), with
 * fake actors and a SimulatedClock. Membership events go through a Subject, like the real watch.
 */
function harness(
  opts: {
    timings?: Partial<CalculatorTimings>;
    discovered?: DiscoveredAssignments;
  } = {},
) {
  const clock = new SimulatedClock();
  const membership = new Subject<MembershipEvent>();
  const calls: Call[] = [];
  const states: CalculatorState[] = [];
  const published: Published[] = [];
  const errors: Error[] = [];
  const control = { failNext: 0, gate: undefined as Promise<void> | undefined };

  const calc = calculatorMachine.provide({
    actors: {
      membershipWatch: fromEventObservable(() => membership),
      discoverAssignments: fromPromise(async () => opts.discovered ?? { maxVersion: 0, previous: {} }),
      rebalance: fromPromise<RebalanceOutput, RebalanceInput>(async ({ input }) => {
        calls.push({ at: clock.now(), input });
        if (control.gate) await control.gate;
        if (control.failNext > 0) {
          control.failNext--;
          throw new Error('kv down');
        }
        return { version: input.version, assignments: Object.fromEntries(input.workers.map((w) => [w, []])) };
      }),
    },
  });

  const parent = setup({
    types: { events: {} as CalculatorToParentEvent },
    actors: { calc },
  }).createMachine({
    invoke: {
      id: 'calculator',
      src: 'calc',
      input: { workerId: SELF, epoch: 7, timings: { ...TIMINGS, ...opts.timings } },
    },
    on: {
      'calculator.state': { actions: ({ event }) => states.push(event.state) },
      'calculator.published': {
        actions: ({ event }) =>
          published.push({ at: clock.now(), version: event.version, lifecycle: event.lifecycle, workers: event.workers }),
      },
      'calculator.error': { actions: ({ event }) => errors.push(event.error) },
    },
  });

  const actor = createActor(parent, { clock });
  actor.start();
  const child = (): AnyActorRef => {
    const ref = actor.getSnapshot().children.calculator as AnyActorRef | undefined;
    assert.ok(ref, 'calculator child is running');
    return ref;
  };

  return {
    clock,
    calls,
    states,
    published,
    errors,
    control,
    /** Emit a membership event from the fake watch. */
    emit: async (e: MembershipEvent) => {
      membership.next(e);
      await settle();
    },
    send: async (e: { type: 'REFRESH' } | { type: 'RECOVERED' }) => {
      child().send(e);
      await settle();
    },
    advance: async (ms: number) => {
      // Step in small increments so timers armed by promise results are honoured in order.
      const end = clock.now() + ms;
      while (clock.now() < end) {
        clock.increment(Math.min(10, end - clock.now()));
        await settle();
      }
      await settle();
    },
    context: (): CalculatorContext => (child().getSnapshot() as { context: CalculatorContext }).context,
    value: (): unknown => (child().getSnapshot() as { value: unknown }).value,
    stop: () => actor.stop(),
    [Symbol.dispose]: () => actor.stop(),
  };
}

type Harness = ReturnType<typeof harness>;

/** Takeover with the given live workers, then let the takeover window run out. */
async function startSettled(h: Harness, workers: string[]): Promise<void> {
  await settle();
  await h.emit({ type: 'membership.snapshot', workers });
  await h.advance(TIMINGS.coldStartWindow + TIMINGS.minRebalanceInterval);
  assert.deepEqual(h.states.at(-1), 'Idle');
  h.calls.length = 0;
  h.published.length = 0;
  h.states.length = 0;
}

void test('calculator - new leader publishes at once to all live workers (self included), then runs a cold-start window', async () => {
  using h = harness();
  await settle();
  assert.equal(h.calls.length, 0, 'waits for the first membership listing');
  await h.emit({ type: 'membership.snapshot', workers: ['worker-1', 'worker-2'] });

  assert.equal(h.calls.length, 1);
  assert.deepEqual(h.calls[0]?.input, {
    workers: ['worker-0', 'worker-1', 'worker-2'],
    lifecycle: 'cold_start_immediate',
    version: 1,
    epoch: 7,
    previous: {},
  });
  assert.deepEqual(h.states, ['Rebalancing', 'Scaling']);

  await h.advance(TIMINGS.coldStartWindow - 10);
  assert.equal(h.calls.length, 1, 'no publish before the window ends');
  await h.advance(10);
  assert.equal(h.calls.length, 2);
  assert.equal(h.calls[1]?.input.lifecycle, 'cold_start');
  assert.equal(h.calls[1]?.input.version, 2);
  assert.deepEqual(h.states, ['Rebalancing', 'Scaling', 'Rebalancing', 'Idle']);
  assert.deepEqual(
    h.published.map((p) => [p.version, p.lifecycle]),
    [
      [1, 'cold_start_immediate'],
      [2, 'cold_start'],
    ],
  );
});

void test('calculator - takeover continues from the discovered version and passes previous assignments', async () => {
  const previous = { 'worker-0': [{ keys: ['p0'], weight: 1 }], 'worker-1': [{ keys: ['p1'], weight: 1 }] };
  using h = harness({ discovered: { maxVersion: 41, previous } });
  await settle();
  await h.emit({ type: 'membership.snapshot', workers: ['worker-0', 'worker-1'] });
  assert.equal(h.calls[0]?.input.version, 42);
  assert.deepEqual(h.calls[0]?.input.previous, previous);
  // Then the previous of the next publish is the output of this one.
  await h.advance(TIMINGS.plannedScaleWindow);
  assert.equal(h.calls[1]?.input.version, 43);
  assert.deepEqual(h.calls[1]?.input.previous, { 'worker-0': [], 'worker-1': [] });
});

void test('calculator - takeover picks the planned window when most previously assigned workers are live', async () => {
  const previous = { 'worker-0': [], 'worker-1': [], 'worker-2': [] };
  using h = harness({ discovered: { maxVersion: 5, previous } });
  await settle();
  await h.emit({ type: 'membership.snapshot', workers: ['worker-0', 'worker-1'] }); // 2/3 >= 0.5
  await h.advance(TIMINGS.plannedScaleWindow);
  assert.equal(h.calls.length, 2);
  assert.equal(h.calls[1]?.input.lifecycle, 'planned_scale');
  assert.equal(h.calls[1]?.at, TIMINGS.plannedScaleWindow);
});

void test('calculator - takeover picks the cold-start window when most previously assigned workers are gone', async () => {
  const previous = { 'worker-0': [], 'worker-1': [], 'worker-2': [] };
  using h = harness({ discovered: { maxVersion: 5, previous } });
  await settle();
  await h.emit({ type: 'membership.snapshot', workers: ['worker-0'] }); // 1/3 < 0.5: a restart
  await h.advance(TIMINGS.plannedScaleWindow);
  assert.equal(h.calls.length, 1, 'still inside the cold-start window');
  await h.advance(TIMINGS.coldStartWindow - TIMINGS.plannedScaleWindow);
  assert.equal(h.calls.length, 2);
  assert.equal(h.calls[1]?.input.lifecycle, 'cold_start');
});

void test('calculator - a takeover window of 0 ms publishes right after the immediate publish', async () => {
  using h = harness({ timings: { coldStartWindow: 0, minRebalanceInterval: 1 } });
  await settle();
  await h.emit({ type: 'membership.snapshot', workers: ['worker-0'] });
  await h.advance(1);
  assert.deepEqual(
    h.calls.map((c) => c.input.lifecycle),
    ['cold_start_immediate', 'cold_start'],
  );
});

void test('calculator - a join starts a planned window; a join during the window does not extend it', async () => {
  using h = harness();
  await startSettled(h, ['worker-0', 'worker-1']);
  const t0 = h.clock.now();
  await h.emit({ type: 'membership.joined', workerId: 'worker-2' });
  assert.deepEqual(h.states, ['Scaling']);
  await h.advance(400);
  await h.emit({ type: 'membership.joined', workerId: 'worker-3' });
  await h.advance(90);
  assert.equal(h.calls.length, 0);
  await h.advance(10);
  assert.equal(h.calls.length, 1);
  assert.equal(h.calls[0]?.at, t0 + TIMINGS.plannedScaleWindow);
  assert.deepEqual(h.calls[0]?.input.workers, ['worker-0', 'worker-1', 'worker-2', 'worker-3']);
  assert.equal(h.calls[0]?.input.lifecycle, 'planned_scale');
  assert.deepEqual(h.states, ['Scaling', 'Rebalancing', 'Idle']);
});

void test('calculator - a heartbeat PUT of a known worker changes nothing', async () => {
  using h = harness();
  await startSettled(h, ['worker-0', 'worker-1']);
  await h.emit({ type: 'membership.joined', workerId: 'worker-1' });
  await h.emit({ type: 'membership.snapshot', workers: ['worker-1'] }); // self is implied
  await h.advance(2_000);
  assert.deepEqual(h.states, []);
  assert.equal(h.calls.length, 0);
});

void test('calculator - cooldown defers a planned rebalance but not an emergency', async () => {
  const timings = { plannedScaleWindow: 0, minRebalanceInterval: 300, emergencyGracePeriod: 0 };
  {
    using h = harness({ timings });
    await startSettled(h, ['worker-0', 'worker-1']);
    // Publish now, then a join 10 ms later: its (empty) window ends inside the cooldown.
    await h.send({ type: 'REFRESH' });
    const tPublish = h.clock.now();
    await h.advance(10);
    await h.emit({ type: 'membership.joined', workerId: 'worker-2' });
    await h.advance(200);
    assert.equal(h.calls.length, 1, 'only the refresh so far');
    await h.advance(100);
    assert.equal(h.calls.length, 2);
    assert.equal(h.calls[1]?.input.lifecycle, 'planned_scale');
    assert.equal(h.calls[1]?.at, tPublish + 300);
  }
  {
    using h = harness({ timings });
    await startSettled(h, ['worker-0', 'worker-1']);
    await h.send({ type: 'REFRESH' });
    const tPublish = h.clock.now();
    await h.advance(10);
    await h.emit({ type: 'membership.expired', workerId: 'worker-1' });
    await h.advance(10);
    assert.equal(h.calls.length, 2);
    assert.equal(h.calls[1]?.input.lifecycle, 'emergency');
    assert.ok((h.calls[1]?.at ?? Infinity) < tPublish + 300, 'not delayed by the cooldown');
  }
});

void test('calculator - an expired heartbeat leads to Emergency after the grace period', async () => {
  using h = harness();
  await startSettled(h, ['worker-0', 'worker-1', 'worker-2']);
  const t0 = h.clock.now();
  await h.emit({ type: 'membership.expired', workerId: 'worker-1' });
  await h.advance(TIMINGS.emergencyGracePeriod - 10);
  assert.equal(h.calls.length, 0);
  assert.deepEqual(h.states, []);
  await h.advance(10);
  assert.equal(h.calls.length, 1);
  assert.equal(h.calls[0]?.at, t0 + TIMINGS.emergencyGracePeriod);
  assert.deepEqual(h.calls[0]?.input.workers, ['worker-0', 'worker-2']);
  assert.equal(h.calls[0]?.input.lifecycle, 'emergency');
  assert.deepEqual(h.states, ['Emergency', 'Idle']);
});

void test('calculator - a listing that misses a live worker counts as its expiry', async () => {
  using h = harness();
  await startSettled(h, ['worker-0', 'worker-1', 'worker-2']);
  await h.emit({ type: 'membership.snapshot', workers: ['worker-0', 'worker-2'] });
  await h.advance(TIMINGS.emergencyGracePeriod);
  assert.deepEqual(h.calls[0]?.input.workers, ['worker-0', 'worker-2']);
  assert.equal(h.calls[0]?.input.lifecycle, 'emergency');
});

void test('calculator - a heartbeat that returns within the grace period cancels the emergency', async () => {
  using h = harness();
  await startSettled(h, ['worker-0', 'worker-1']);
  await h.emit({ type: 'membership.expired', workerId: 'worker-1' });
  await h.advance(200);
  await h.emit({ type: 'membership.joined', workerId: 'worker-1' });
  await h.advance(2_000);
  assert.equal(h.calls.length, 0);
  assert.deepEqual(h.states, []);
  assert.deepEqual(h.context().suspects, []);

  // Same through a listing.
  await h.emit({ type: 'membership.expired', workerId: 'worker-1' });
  await h.advance(100);
  await h.emit({ type: 'membership.snapshot', workers: ['worker-0', 'worker-1'] });
  await h.advance(2_000);
  assert.equal(h.calls.length, 0);
});

void test('calculator - a crash during a Scaling window escalates to Emergency with the window joins', async () => {
  using h = harness();
  await startSettled(h, ['worker-0', 'worker-1']);
  await h.emit({ type: 'membership.joined', workerId: 'worker-2' });
  await h.emit({ type: 'membership.expired', workerId: 'worker-1' });
  await h.advance(TIMINGS.emergencyGracePeriod);
  assert.deepEqual(h.states, ['Scaling', 'Emergency', 'Idle']);
  assert.equal(h.calls.length, 1);
  assert.deepEqual(h.calls[0]?.input.workers, ['worker-0', 'worker-2']);
  assert.equal(h.calls[0]?.input.lifecycle, 'emergency');
  await h.advance(TIMINGS.plannedScaleWindow);
  assert.equal(h.calls.length, 1, 'the window was cancelled');
});

void test('calculator - a graceful leave rebalances at once, even inside the cooldown and from Scaling', async () => {
  using h = harness({ timings: { minRebalanceInterval: 400 } });
  await startSettled(h, ['worker-0', 'worker-1', 'worker-2', 'worker-3']);
  await h.send({ type: 'REFRESH' });
  await h.emit({ type: 'membership.left', workerId: 'worker-1' });
  assert.equal(h.calls.length, 2);
  assert.deepEqual(h.calls[1]?.input.workers, ['worker-0', 'worker-2', 'worker-3']);
  assert.equal(h.calls[1]?.input.lifecycle, 'graceful_leave');
  assert.equal(h.calls[1]?.at, h.calls[0]?.at);

  h.states.length = 0;
  await h.emit({ type: 'membership.joined', workerId: 'worker-4' });
  await h.advance(100);
  await h.emit({ type: 'membership.left', workerId: 'worker-2' });
  assert.deepEqual(h.calls[2]?.input.workers, ['worker-0', 'worker-3', 'worker-4']);
  assert.equal(h.calls[2]?.input.lifecycle, 'graceful_leave');
  assert.deepEqual(h.states, ['Scaling', 'Rebalancing', 'Idle']);
  await h.advance(1_000);
  assert.equal(h.calls.length, 3, 'the window was consumed by the leave');
});

void test('calculator - a leave of a worker that is not in the assignment does not publish', async () => {
  using h = harness();
  await startSettled(h, ['worker-0', 'worker-1']);
  await h.emit({ type: 'membership.joined', workerId: 'worker-2' });
  await h.emit({ type: 'membership.left', workerId: 'worker-2' });
  assert.equal(h.calls.length, 0);
  await h.advance(TIMINGS.plannedScaleWindow);
  assert.deepEqual(h.calls.map((c) => c.input.workers), [['worker-0', 'worker-1']]);
});

void test('calculator - a failed rebalance is reported and retried with growing backoff', async () => {
  using h = harness();
  await startSettled(h, ['worker-0', 'worker-1']);
  h.control.failNext = 4;
  await h.send({ type: 'REFRESH' });
  await h.advance(2_000);
  const at = h.calls.map((c) => c.at);
  assert.equal(at.length, 5);
  const t0 = at[0] ?? 0;
  assert.deepEqual(
    at.map((t) => t - t0),
    [0, 100, 300, 700, 1_100], // 100, 200, 400, 400 (capped)
  );
  assert.equal(h.errors.length, 4);
  assert.ok(h.calls.every((c) => c.input.lifecycle === 'manual-refresh'));
  assert.equal(h.published.length, 1);
  assert.equal(h.states.at(-1), 'Idle');
  assert.deepEqual(h.states, ['Rebalancing', 'Idle'], 'RetryWait reports the failed attempt state');
});

void test('calculator - a retry uses the workers live at that time', async () => {
  using h = harness();
  await startSettled(h, ['worker-0', 'worker-1']);
  h.control.failNext = 1;
  await h.send({ type: 'REFRESH' });
  await h.emit({ type: 'membership.joined', workerId: 'worker-2' });
  await h.advance(TIMINGS.rebalanceRetryBase);
  assert.deepEqual(h.calls[1]?.input.workers, ['worker-0', 'worker-1', 'worker-2']);
});

void test('calculator - a failed emergency is retried as an emergency', async () => {
  using h = harness();
  await startSettled(h, ['worker-0', 'worker-1']);
  h.control.failNext = 1;
  await h.emit({ type: 'membership.expired', workerId: 'worker-1' });
  await h.advance(TIMINGS.emergencyGracePeriod + TIMINGS.rebalanceRetryBase);
  assert.deepEqual(
    h.calls.map((c) => c.input.lifecycle),
    ['emergency', 'emergency'],
  );
  assert.deepEqual(h.states, ['Emergency', 'Idle']);
});

void test('calculator - REFRESH publishes at once, and again after an in-flight publish', async () => {
  using h = harness();
  await startSettled(h, ['worker-0', 'worker-1']);
  await h.send({ type: 'REFRESH' });
  assert.equal(h.calls.length, 1);
  assert.equal(h.calls[0]?.input.lifecycle, 'manual-refresh');

  // During a window: publishes now and consumes the window.
  await h.emit({ type: 'membership.joined', workerId: 'worker-2' });
  await h.send({ type: 'REFRESH' });
  assert.equal(h.calls.length, 2);
  assert.deepEqual(h.calls[1]?.input.workers, ['worker-0', 'worker-1', 'worker-2']);

  // While a publish is in flight: one more after it.
  const gate = deferred();
  h.control.gate = gate.promise;
  await h.send({ type: 'REFRESH' });
  assert.equal(h.calls.length, 3);
  await h.send({ type: 'REFRESH' });
  await h.send({ type: 'REFRESH' });
  assert.equal(h.calls.length, 3);
  h.control.gate = undefined;
  gate.resolve();
  await h.advance(10);
  assert.equal(h.calls.length, 4);
  assert.equal(h.calls[3]?.input.lifecycle, 'manual-refresh');
  assert.equal(h.calls[3]?.input.version, (h.calls[2]?.input.version ?? 0) + 1);
  await h.advance(1_000);
  assert.equal(h.calls.length, 4);
});

void test('calculator - a crash confirmed during an in-flight publish is followed by an emergency', async () => {
  using h = harness({ timings: { emergencyGracePeriod: 0 } });
  await startSettled(h, ['worker-0', 'worker-1', 'worker-2']);
  const gate = deferred();
  h.control.gate = gate.promise;
  await h.send({ type: 'REFRESH' });
  await h.emit({ type: 'membership.expired', workerId: 'worker-2' });
  await h.advance(10);
  h.control.gate = undefined;
  gate.resolve();
  await h.advance(10);
  assert.deepEqual(
    h.calls.map((c) => [c.input.lifecycle, c.input.workers]),
    [
      ['manual-refresh', ['worker-0', 'worker-1', 'worker-2']],
      ['emergency', ['worker-0', 'worker-1']],
    ],
  );
});

void test('calculator - the recovery grace suppresses emergencies until it ends', async () => {
  using h = harness();
  await startSettled(h, ['worker-0', 'worker-1', 'worker-2']);
  await h.send({ type: 'RECOVERED' });
  const t0 = h.clock.now();
  await h.emit({ type: 'membership.expired', workerId: 'worker-1' });
  await h.emit({ type: 'membership.expired', workerId: 'worker-2' });
  await h.advance(1_000);
  await h.emit({ type: 'membership.joined', workerId: 'worker-2' }); // back before the grace ends
  await h.advance(TIMINGS.recoveryGracePeriod - 1_000 - 10);
  assert.equal(h.calls.length, 0);
  assert.deepEqual(h.states, []);
  await h.advance(10);
  assert.equal(h.calls.length, 1);
  assert.equal(h.calls[0]?.at, t0 + TIMINGS.recoveryGracePeriod);
  assert.equal(h.calls[0]?.input.lifecycle, 'emergency');
  assert.deepEqual(h.calls[0]?.input.workers, ['worker-0', 'worker-2']);
});

void test('calculator - a failed discovery is reported and retried before the first publish', async () => {
  const clock = new SimulatedClock();
  let attempts = 0;
  const errors: Error[] = [];
  const calls: RebalanceInput[] = [];
  const membership = new Subject<MembershipEvent>();
  const calc = calculatorMachine.provide({
    actors: {
      membershipWatch: fromEventObservable(() => membership),
      discoverAssignments: fromPromise(async () => {
        attempts++;
        if (attempts === 1) throw new Error('listing failed');
        return { maxVersion: 9, previous: {} };
      }),
      rebalance: fromPromise<RebalanceOutput, RebalanceInput>(async ({ input }) => {
        calls.push(input);
        return { version: input.version, assignments: {} };
      }),
    },
  });
  const parent = setup({ types: { events: {} as CalculatorToParentEvent }, actors: { calc } }).createMachine({
    invoke: { src: 'calc', input: { workerId: SELF, epoch: 1, timings: TIMINGS } },
    on: { 'calculator.error': { actions: ({ event }) => errors.push(event.error) } },
  });
  const actor = createActor(parent, { clock }).start();
  try {
    membership.next({ type: 'membership.snapshot', workers: [] });
    await settle();
    assert.equal(calls.length, 0);
    assert.equal(errors.length, 1);
    clock.increment(TIMINGS.rebalanceRetryBase);
    await settle();
    assert.equal(attempts, 2);
    assert.equal(calls[0]?.version, 10);
    assert.deepEqual(calls[0]?.workers, [SELF]);
  } finally {
    actor.stop();
  }
});

void test('calculator - placeholder actors fail with a clear "not provided" error', async () => {
  const seen: unknown[] = [];
  const parent = setup({ actors: { calc: calculatorMachine } }).createMachine({
    invoke: {
      src: 'calc',
      input: { workerId: SELF, epoch: 1, timings: TIMINGS },
      onError: { actions: ({ event }) => seen.push(event.error) },
    },
  });
  const actor = createActor(parent).start();
  await settle();
  actor.stop();
  assert.equal(seen.length, 1);
  assert.match(String((seen[0] as Error | undefined)?.message), /"membershipWatch" was not provided/);
});

void test('calculator - stopping it cancels windows and grace timers', async () => {
  const h = harness();
  await startSettled(h, ['worker-0', 'worker-1']);
  await h.emit({ type: 'membership.joined', workerId: 'worker-2' });
  await h.emit({ type: 'membership.expired', workerId: 'worker-1' });
  h.stop();
  await h.advance(5_000);
  assert.equal(h.calls.length, 0);
});

// --- pure helpers ------------------------------------------------------------------------------

void test('calculator - retryDelay doubles from base and caps at max', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 60].map((n) => retryDelay(n, 100, 1_000)),
    [100, 200, 400, 800, 1_000, 1_000],
  );
});

void test('calculator - shouldUseColdStartWindow', () => {
  assert.equal(shouldUseColdStartWindow({}, ['a'], 0.5), true, 'nothing assigned before');
  const prev = { a: [], b: [], c: [], d: [] };
  assert.equal(shouldUseColdStartWindow(prev, ['a'], 0.5), true, '1/4 live: restart');
  assert.equal(shouldUseColdStartWindow(prev, ['a', 'b'], 0.5), false, '2/4 live: failover');
  assert.equal(shouldUseColdStartWindow(prev, ['x', 'y', 'z'], 0.5), true, 'none of them live');
});

void test('calculator - applyMembership', () => {
  const view = { workerId: 'a', live: ['a', 'b', 'c'], suspects: ['c'], overdue: [], dead: ['d'] };
  const snap = applyMembership(view, { type: 'membership.snapshot', workers: ['c', 'd', 'e'] });
  assert.deepEqual(snap.joined, ['d', 'e']);
  assert.deepEqual(snap.returned, ['c']);
  assert.deepEqual(snap.expired, ['b'], 'self is never expired');
  assert.deepEqual(snap.live, ['a', 'b', 'c', 'd', 'e']);
  assert.deepEqual(snap.suspects, ['b']);
  assert.deepEqual(snap.dead, []);

  const left = applyMembership(view, { type: 'membership.left', workerId: 'c' });
  assert.deepEqual(left.left, ['c']);
  assert.deepEqual(left.live, ['a', 'b']);
  assert.deepEqual(left.suspects, []);
  assert.deepEqual(applyMembership(view, { type: 'membership.left', workerId: 'a' }).left, []);
  assert.deepEqual(applyMembership(view, { type: 'membership.expired', workerId: 'zz' }).expired, []);
});

void test('calculator - followUp priorities', () => {
  const base = { pendingRefresh: false, live: ['a', 'b'], published: ['a', 'b'], dead: [], takeover: undefined };
  assert.equal(followUp(base), 'idle');
  assert.equal(followUp({ ...base, live: ['a', 'b', 'c'] }), 'scale');
  assert.equal(followUp({ ...base, takeover: 'cold_start' }), 'takeover');
  assert.equal(followUp({ ...base, live: ['a'] }), 'leave');
  assert.equal(followUp({ ...base, live: ['a'], dead: ['b'] }), 'emergency');
  assert.equal(followUp({ ...base, live: ['a'], dead: ['b'], pendingRefresh: true }), 'refresh');
});
