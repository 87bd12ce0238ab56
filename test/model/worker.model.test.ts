/**
 * Model-based test of the worker statechart: xstate/graph finds the shortest event path to every
 * reachable configuration (with every service replaced by a fake), each path is replayed on a
 * live actor, and from every public state STOP must lead through Shutdown to the final state.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createActor, createEmptyActor, fromCallback, fromEventObservable, fromPromise, SimulatedClock } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import { NEVER } from 'rxjs';
import { resolveConfig, type PartiConfig } from '../../src/config.js';
import {
  workerMachine,
  workerStateOf,
  type ClaimOutput,
  type TeardownInput,
  type TeardownOutput,
  type WorkerSnapshot,
} from '../../src/machines/worker.machine.js';
import type { WorkerEvent } from '../../src/machines/worker.events.js';
import { WORKER_STATES, type WorkerState } from '../../src/types.js';

const config = resolveConfig({});
let teardowns = 0;

const fakes = workerMachine.provide({
  actors: {
    // Never settles by itself: the model drives completion with explicit done events.
    claimStableId: fromPromise<ClaimOutput, { config: PartiConfig }>(() => new Promise<never>(() => {})),
    leaseRenewal: fromEventObservable<WorkerEvent, { workerId: string; revision: number }>(() => NEVER),
    heartbeat: fromEventObservable<WorkerEvent, { workerId: string }>(() => NEVER),
    election: fromEventObservable<WorkerEvent, { workerId: string }>(() => NEVER),
    assignmentWatch: fromEventObservable<WorkerEvent, { workerId: string }>(() => NEVER),
    connectionHealth: fromEventObservable<WorkerEvent, Record<string, never>>(() => NEVER),
    // A leader's calculator that never reports: the model sends calculator.state itself.
    calculator: fromCallback(() => () => {}) as never,
    teardown: fromPromise<TeardownOutput, TeardownInput>(async () => {
      teardowns++;
      return { errors: [] };
    }),
  },
});

const assignment = (version: number) => ({ version, epoch: 1, lifecycle: 'cold_start', partitions: [{ keys: ['p-0'], weight: 100 }] });

const EVENTS: WorkerEvent[] = [
  { type: 'START' },
  { type: 'xstate.done.actor.claimStableId', output: { workerId: 'worker-0', revision: 1 } } as unknown as WorkerEvent,
  { type: 'leadership.acquired', epoch: 7 },
  { type: 'leadership.follower' },
  { type: 'assignment.received', assignment: assignment(1) },
  { type: 'calculator.state', state: 'Scaling' },
  { type: 'calculator.state', state: 'Rebalancing' },
  { type: 'calculator.state', state: 'Emergency' },
  { type: 'calculator.state', state: 'Idle' },
  { type: 'connection.lost' },
  { type: 'connection.restored' },
];

const key = (s: WorkerSnapshot) =>
  [workerStateOf(s), s.context.leader, s.context.calculatorState, s.context.assignment?.version ?? '-'].join('|');

/**
 * xstate/graph explores with one mock actor system for the whole traversal, so re-entering
 * Leader would register the calculator's systemId twice. Give each explored transition a
 * fresh system, as a live actor has after the previous calculator was stopped.
 */
function freshScope() {
  const empty = createEmptyActor();
  return {
    self: empty,
    logger: () => {},
    id: '',
    sessionId: 'model',
    defer: () => {},
    system: empty.system,
    stopChild: () => {},
    emit: () => {},
    actionExecutor: () => {},
  } as unknown as Parameters<typeof fakes.transition>[2];
}
const traversable = Object.create(fakes) as typeof fakes;
traversable.transition = (snapshot, event) => fakes.transition(snapshot, event, freshScope());
traversable.getInitialSnapshot = (_scope, input) => fakes.getInitialSnapshot(freshScope(), input);

describe('worker model', () => {
  const paths = getShortestPaths(traversable, {
    events: EVENTS,
    input: { config },
    serializeState: (s) => key(s),
  });
  const byState = new Map<WorkerState, (typeof paths)[number]>();
  for (const p of paths) {
    const st = workerStateOf(p.state);
    const known = byState.get(st);
    if (!known || known.steps.length > p.steps.length) byState.set(st, p);
  }

  it('worker model - every public state except Shutdown is reachable', () => {
    const missing = WORKER_STATES.filter((s) => s !== 'Shutdown' && !byState.has(s));
    assert.deepEqual(missing, []);
  });

  for (const target of WORKER_STATES.filter((s) => s !== 'Shutdown')) {
    it(`worker model - STOP from ${target} reaches Shutdown and the final state`, async () => {
      const path = byState.get(target);
      assert.ok(path, `no path to ${target}`);
      const clock = new SimulatedClock();
      const actor = createActor(fakes, { input: { config }, clock });
      const seen: WorkerState[] = [];
      actor.subscribe((s) => seen.push(workerStateOf(s)));
      actor.start();
      for (const step of path.steps) actor.send(step.event);
      assert.equal(workerStateOf(actor.getSnapshot()), target, `replayed path should reach ${target}`);
      const before = teardowns;
      actor.send({ type: 'STOP' });
      actor.send({ type: 'STOP' }); // repeated STOP is ignored
      assert.ok(seen.includes('Shutdown') || workerStateOf(actor.getSnapshot()) === 'Shutdown');
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('worker did not reach its final state')), 2_000);
        const check = (s: WorkerSnapshot) => {
          if (s.status === 'done') {
            clearTimeout(timer);
            resolve();
          }
        };
        check(actor.getSnapshot());
        actor.subscribe(check);
      });
      assert.equal(teardowns - before, 1, 'exactly one teardown runs');
      assert.equal(actor.getSnapshot().output?.reason, 'stop');
    });
  }
});
