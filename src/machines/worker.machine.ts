/**
 * The worker lifecycle statechart. Machines decide, services do: every I/O activity is an
 * invoked actor referenced by name here and implemented in src/services (the Manager provides
 * them with `.provide()`; tests provide fakes). Leaving a state stops exactly the actors it
 * invoked, so STOP and ABORT are ordinary transitions.
 *
 * Public state = the single WorkerState tag of the active lifecycle node (see `workerStateOf`).
 *
 *   Init ─START→ Claiming ─id→ Running ∥ role:      Follower ⇄ Leader (invokes the calculator)
 *                                      ∥ lifecycle: Election → WaitingAssignment → Serving
 *                                                   Serving = Stable | Scaling | Rebalancing | Emergency
 *                                                   (mirrors the calculator while leading)
 *                                                   WaitingAssignment/Serving ⇄ Degraded
 *   any ─STOP/ABORT→ Shutdown (teardown) → Stopped (final)
 *   Running ─lease.lost→ Claiming (stop serving, claim again)
 */
import { assign, emit, enqueueActions, fromEventObservable, fromPromise, raise, sendTo, setup, type SnapshotFrom } from 'xstate';
import { NEVER } from 'rxjs';
import type { PartiConfig } from '../config.js';
import { isNewerAssignment } from '../wire/assignment.js';
import type { Assignment, CalculatorState, WorkerState } from '../types.js';
import { WORKER_STATES } from '../types.js';
import { calculatorMachine } from './calculator.machine.js';
import type { CalculatorInput } from './calculator.events.js';
import type { WorkerEvent } from './worker.events.js';

export interface WorkerInput {
  readonly config: PartiConfig;
}

export interface WorkerContext {
  readonly config: PartiConfig;
  readonly workerId: string | undefined;
  /** Revision of our stable-ID key as last written (fences its release). */
  readonly idRevision: number | undefined;
  readonly leader: boolean;
  /** Leader epoch while leading. */
  readonly epoch: number | undefined;
  readonly calculatorState: CalculatorState;
  readonly assignment: Assignment | undefined;
  /** Why the worker shut down when it was not asked to (claim failure, a service that died). */
  readonly fatalError: Error | undefined;
  readonly stopReason: 'stop' | 'abort' | 'error' | undefined;
  readonly abortReason: unknown;
}

export interface WorkerOutput {
  readonly workerId: string | undefined;
  readonly reason: 'stop' | 'abort' | 'error' | undefined;
  readonly error: Error | undefined;
}

/** Emitted to `actor.on(...)` listeners (the Manager forwards them to onError and the log). */
export type WorkerEmitted =
  | { readonly type: 'worker.error'; readonly source: string; readonly error: Error }
  | { readonly type: 'worker.published'; readonly version: number; readonly lifecycle: string; readonly workers: readonly string[] };

export interface ClaimOutput {
  readonly workerId: string;
  readonly revision: number;
}

export interface TeardownInput {
  readonly workerId: string | undefined;
  readonly idRevision: number | undefined;
  readonly wasLeader: boolean;
}

export interface TeardownOutput {
  readonly errors: readonly Error[];
}

const notProvided = (name: string) => () => {
  throw new Error(`worker machine: actor '${name}' was not provided (use workerMachine.provide)`);
};

const toError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

export const workerMachine = setup({
  types: {
    context: {} as WorkerContext,
    events: {} as WorkerEvent,
    input: {} as WorkerInput,
    output: {} as WorkerOutput,
    emitted: {} as WorkerEmitted,
    tags: {} as WorkerState,
  },
  actors: {
    claimStableId: fromPromise<ClaimOutput, { config: PartiConfig }>(notProvided('claimStableId')),
    leaseRenewal: fromEventObservable<WorkerEvent, { workerId: string; revision: number }>(() => NEVER),
    heartbeat: fromEventObservable<WorkerEvent, { workerId: string }>(() => NEVER),
    election: fromEventObservable<WorkerEvent, { workerId: string }>(() => NEVER),
    assignmentWatch: fromEventObservable<WorkerEvent, { workerId: string }>(() => NEVER),
    connectionHealth: fromEventObservable<WorkerEvent, Record<string, never>>(() => NEVER),
    calculator: calculatorMachine,
    teardown: fromPromise<TeardownOutput, TeardownInput>(notProvided('teardown')),
  },
  guards: {
    isNewerAssignment: ({ context, event }) =>
      event.type === 'assignment.received' && isNewerAssignment(context.assignment, event.assignment),
    calculatorIs: ({ context }, state: CalculatorState) => context.calculatorState === state,
    hasAssignment: ({ context }) => context.assignment !== undefined,
  },
  actions: {
    reportError: emit(({ event }) => {
      switch (event.type) {
        case 'service.error':
          return { type: 'worker.error' as const, source: event.source, error: event.error };
        case 'calculator.error':
          return { type: 'worker.error' as const, source: 'calculator', error: event.error };
        case 'lease.lost':
          return { type: 'worker.error' as const, source: 'stable-id-lease', error: event.error };
        case 'leadership.lost':
          return { type: 'worker.error' as const, source: 'election', error: event.error };
        default:
          return { type: 'worker.error' as const, source: 'worker', error: new Error(`unexpected ${event.type}`) };
      }
    }),
    /** A service errored instead of retrying: nothing can be trusted any more, shut down. */
    recordServiceDeath: assign({
      fatalError: ({ event }) => toError((event as { error?: unknown }).error),
      stopReason: 'error' as const,
    }),
    emitTeardownErrors: enqueueActions(({ event, enqueue }) => {
      const output = (event as { output?: TeardownOutput }).output;
      for (const error of output?.errors ?? []) {
        enqueue.emit({ type: 'worker.error', source: 'teardown', error });
      }
    }),
    storeAssignment: assign({
      assignment: ({ context, event }) => (event.type === 'assignment.received' ? event.assignment : context.assignment),
    }),
  },
}).createMachine({
  id: 'worker',
  context: ({ input }) => ({
    config: input.config,
    workerId: undefined,
    idRevision: undefined,
    leader: false,
    epoch: undefined,
    calculatorState: 'Idle',
    assignment: undefined,
    fatalError: undefined,
    stopReason: undefined,
    abortReason: undefined,
  }),
  initial: 'Init',
  // Accepted in every state; Shutdown and Stopped override them to make repeats no-ops.
  on: {
    STOP: { target: '.Shutdown', actions: assign({ stopReason: 'stop' }) },
    ABORT: { target: '.Shutdown', actions: assign({ stopReason: 'abort', abortReason: ({ event }) => event.reason }) },
  },
  output: ({ context }) => ({ workerId: context.workerId, reason: context.stopReason, error: context.fatalError }),
  states: {
    Init: {
      tags: ['Init'],
      on: { START: 'Claiming' },
    },
    Claiming: {
      tags: ['Claiming'],
      entry: assign({ workerId: undefined, idRevision: undefined, leader: false, epoch: undefined, calculatorState: 'Idle' }),
      invoke: {
        id: 'claimStableId',
        src: 'claimStableId',
        input: ({ context }) => ({ config: context.config }),
        onDone: {
          target: 'Running',
          actions: assign({ workerId: ({ event }) => event.output.workerId, idRevision: ({ event }) => event.output.revision }),
        },
        onError: {
          target: 'Shutdown',
          actions: assign({ fatalError: ({ event }) => toError(event.error), stopReason: 'error' }),
        },
      },
    },
    Running: {
      type: 'parallel',
      invoke: [
        {
          id: 'leaseRenewal',
          src: 'leaseRenewal',
          input: ({ context }) => ({ workerId: context.workerId!, revision: context.idRevision! }),
          onError: { target: 'Shutdown', actions: 'recordServiceDeath' },
        },
        {
          id: 'heartbeat',
          src: 'heartbeat',
          input: ({ context }) => ({ workerId: context.workerId! }),
          onError: { target: 'Shutdown', actions: 'recordServiceDeath' },
        },
        {
          id: 'election',
          src: 'election',
          input: ({ context }) => ({ workerId: context.workerId! }),
          onError: { target: 'Shutdown', actions: 'recordServiceDeath' },
        },
        {
          id: 'assignmentWatch',
          src: 'assignmentWatch',
          input: ({ context }) => ({ workerId: context.workerId! }),
          onError: { target: 'Shutdown', actions: 'recordServiceDeath' },
        },
        {
          id: 'connectionHealth',
          src: 'connectionHealth',
          input: {},
          onError: { target: 'Shutdown', actions: 'recordServiceDeath' },
        },
      ],
      on: {
        'lease.renewed': { actions: assign({ idRevision: ({ event }) => event.revision }) },
        // Someone else holds our ID: stop serving at once and claim again (leaving Running stops
        // every service, including the calculator).
        'lease.lost': { target: 'Claiming', actions: ['reportError', assign({ assignment: undefined })] },
        'service.error': { actions: 'reportError' },
      },
      states: {
        role: {
          initial: 'Follower',
          states: {
            Follower: {
              on: {
                'leadership.acquired': {
                  target: 'Leader',
                  actions: assign({ leader: true, epoch: ({ event }) => event.epoch }),
                },
              },
            },
            Leader: {
              invoke: {
                id: 'calculator',
                systemId: 'calculator',
                src: 'calculator',
                input: ({ context }): CalculatorInput => ({
                  workerId: context.workerId!,
                  epoch: context.epoch!,
                  timings: {
                    coldStartWindow: context.config.coldStartWindow,
                    plannedScaleWindow: context.config.plannedScaleWindow,
                    minRebalanceInterval: context.config.minRebalanceInterval,
                    emergencyGracePeriod: context.config.emergencyGracePeriod,
                    heartbeatTtl: context.config.heartbeatTtl,
                    restartDetectionRatio: context.config.restartDetectionRatio,
                    rebalanceRetryBase: context.config.rebalanceRetryBase,
                    rebalanceRetryMax: context.config.rebalanceRetryMax,
                    recoveryGracePeriod: context.config.degraded.recoveryGracePeriod,
                  },
                }),
                // The calculator's services retry instead of failing, so an error here is a
                // bug: a leader that cannot calculate must not keep the leader key. Shut down.
                onError: { target: '#worker.Shutdown', actions: 'recordServiceDeath' },
              },
              // Losing leadership stops the calculator (and any window timer or in-flight publish).
              exit: [
                assign({ leader: false, epoch: undefined, calculatorState: 'Idle' }),
                raise({ type: 'calculator.state', state: 'Idle' }),
              ],
              on: {
                'calculator.state': { actions: assign({ calculatorState: ({ event }) => event.state }) },
                'calculator.error': { actions: 'reportError' },
                'calculator.published': {
                  actions: emit(({ event }) => ({
                    type: 'worker.published' as const,
                    version: event.version,
                    lifecycle: event.lifecycle,
                    workers: event.workers,
                  })),
                },
                REFRESH: { actions: sendTo('calculator', { type: 'REFRESH' }) },
                'leadership.lost': { target: 'Follower', actions: 'reportError' },
                'connection.restored': { actions: sendTo('calculator', { type: 'RECOVERED' }) },
              },
            },
          },
        },
        lifecycle: {
          initial: 'Election',
          states: {
            Election: {
              tags: ['Election'],
              on: {
                'leadership.acquired': 'WaitingAssignment',
                'leadership.follower': 'WaitingAssignment',
              },
            },
            WaitingAssignment: {
              tags: ['WaitingAssignment'],
              on: {
                'assignment.received': { guard: 'isNewerAssignment', target: 'Serving', actions: 'storeAssignment' },
                'connection.lost': 'Degraded',
              },
            },
            Serving: {
              initial: 'Route',
              on: {
                'assignment.received': { guard: 'isNewerAssignment', actions: 'storeAssignment' },
                'calculator.state': '.Route',
                'connection.lost': 'Degraded',
              },
              states: {
                // Transient: picks the public state from the calculator's (Idle → Stable).
                Route: {
                  always: [
                    { guard: { type: 'calculatorIs', params: 'Scaling' }, target: 'Scaling' },
                    { guard: { type: 'calculatorIs', params: 'Rebalancing' }, target: 'Rebalancing' },
                    { guard: { type: 'calculatorIs', params: 'Emergency' }, target: 'Emergency' },
                    { target: 'Stable' },
                  ],
                },
                Stable: { tags: ['Stable'] },
                Scaling: { tags: ['Scaling'] },
                Rebalancing: { tags: ['Rebalancing'] },
                Emergency: { tags: ['Emergency'] },
              },
            },
            // NATS is unreachable: keep serving the frozen assignment; the leader's calculator
            // suppresses emergencies for a grace period after recovery.
            Degraded: {
              tags: ['Degraded'],
              on: {
                'assignment.received': { guard: 'isNewerAssignment', actions: 'storeAssignment' },
                'connection.restored': [
                  { guard: 'hasAssignment', target: 'Serving' },
                  { target: 'WaitingAssignment' },
                ],
              },
            },
          },
        },
      },
    },
    Shutdown: {
      tags: ['Shutdown'],
      on: { STOP: {}, ABORT: {} },
      invoke: {
        id: 'teardown',
        src: 'teardown',
        input: ({ context }) => ({ workerId: context.workerId, idRevision: context.idRevision, wasLeader: context.leader }),
        onDone: {
          target: 'Stopped',
          actions: 'emitTeardownErrors',
        },
        onError: {
          target: 'Stopped',
          actions: emit(({ event }) => ({ type: 'worker.error' as const, source: 'teardown', error: toError(event.error) })),
        },
      },
    },
    Stopped: {
      tags: ['Shutdown'],
      type: 'final',
      on: { STOP: {}, ABORT: {} },
    },
  },
});

export type WorkerSnapshot = SnapshotFrom<typeof workerMachine>;

/** The public WorkerState of a snapshot: the one WorkerState tag of its active nodes. */
export function workerStateOf(snapshot: WorkerSnapshot): WorkerState {
  for (const s of WORKER_STATES) if (snapshot.hasTag(s)) return s;
  // Unreachable: every non-transient node of the lifecycle carries a tag.
  return 'Init';
}
