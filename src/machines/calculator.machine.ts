/**
 * The leader's assignment calculator: decides *when* to publish an assignment and for *which*
 * workers. It does no I/O: membership, discovery and publishing are invoked actors whose real
 * implementations (services/membership, services/assignment-discovery, services/rebalance) are
 * supplied with `.provide()`; the placeholders here throw.
 *
 * Public states (reported to the parent with `calculator.state`): Idle, Scaling, Rebalancing,
 * Emergency. Internal ones: Starting (discovery + first membership listing, reported as
 * Rebalancing because it ends in the immediate publish), RetryWait (reported as the state of the
 * failed attempt) and Deciding (transient: what follows a successful publish).
 *
 * Timers are named delays (`coldStartWindow`, `plannedScaleWindow`, `emergencyGracePeriod`,
 * `minRebalanceInterval`, `recoveryGracePeriod`, `retryBackoff`) read from `input.timings`, so
 * a SimulatedClock drives all of them.
 */
import { assign, enqueueActions, fromEventObservable, fromPromise, sendParent, setup } from 'xstate';
import type { CalculatorState, Lifecycle, Partition } from '../types.js';
import type {
  CalculatorCommand,
  CalculatorInput,
  CalculatorTimings,
  CalculatorToParentEvent,
  DiscoveredAssignments,
  MembershipEvent,
  RebalanceInput,
  RebalanceOutput,
} from './calculator.events.js';

/** Events the calculator sends itself (delayed). */
export type CalculatorInternalEvent =
  /** The grace period of an expired worker ended without its heartbeat returning. */
  | { readonly type: 'grace.expired'; readonly workerId: string }
  /** minRebalanceInterval has passed since the last successful publish. */
  | { readonly type: 'cooldown.ended' }
  /** recoveryGracePeriod has passed since the last RECOVERED. */
  | { readonly type: 'recovery.ended' };

export type CalculatorEvent = MembershipEvent | CalculatorCommand | CalculatorInternalEvent;

/** Window that follows the immediate publish of a new leader. */
export type TakeoverWindow = 'cold_start' | 'planned_scale';

export interface CalculatorContext {
  readonly workerId: string;
  readonly epoch: number;
  readonly timings: CalculatorTimings;
  /** Workers with a heartbeat (sorted), suspects included, confirmed-dead excluded. Always contains `workerId`. */
  readonly live: readonly string[];
  /** Expired workers within their grace period (still in `live`). */
  readonly suspects: readonly string[];
  /** Suspects whose grace ended during the recovery grace: confirmed when it ends, unless they return. */
  readonly overdue: readonly string[];
  /** Confirmed-dead workers that the last successful publish still contained. */
  readonly dead: readonly string[];
  /** Workers of the last successful publish (undefined before the first one). */
  readonly published: readonly string[] | undefined;
  /** Assignment per worker: discovered at takeover, then the output of each publish (for stickiness). */
  readonly previous: Readonly<Record<string, readonly Partition[]>>;
  readonly nextVersion: number;
  /** Starting: the first membership listing has arrived. */
  readonly membershipKnown: boolean;
  /** Window still to run after the immediate publish of a new leader. */
  readonly takeover: TakeoverWindow | undefined;
  /** Lifecycle of the pending or in-flight publish (the window's lifecycle while Scaling). */
  readonly lifecycle: Lifecycle;
  /** Input of the publish in flight (or of the last one attempted). */
  readonly inFlight: RebalanceInput | undefined;
  /** A REFRESH arrived while a publish was in flight: run another one after it. */
  readonly pendingRefresh: boolean;
  /** Less than minRebalanceInterval since the last successful publish. */
  readonly coolingDown: boolean;
  /** Within recoveryGracePeriod after RECOVERED: no emergency is declared. */
  readonly recovering: boolean;
  /** Consecutive failed attempts (discovery or publish); drives retryBackoff. */
  readonly attempt: number;
  /** Last state reported to the parent (reports are sent on change only). */
  readonly reported: CalculatorState | undefined;
}

// ---------------------------------------------------------------------------------------------
// Pure helpers (exported for unit tests; the guards below are thin wrappers around them).
// ---------------------------------------------------------------------------------------------

function sortedUnique(ids: Iterable<string>): string[] {
  return [...new Set(ids)].sort();
}

function without(ids: readonly string[], remove: readonly string[]): string[] {
  return ids.filter((id) => !remove.includes(id));
}

/** Backoff before retry number `attempt` (1-based): base × 2^(attempt−1), capped at max. */
export function retryDelay(attempt: number, base: number, max: number): number {
  const exp = Math.max(0, attempt - 1);
  return Math.min(max, base * 2 ** Math.min(exp, 30));
}

/**
 * Window after a new leader's immediate publish: cold start when nothing was assigned before, or
 * when fewer than `ratio` of the previously assigned workers are live (the group is restarting and
 * more workers are coming); otherwise the planned-scale window (a leader failover).
 */
export function shouldUseColdStartWindow(
  previous: Readonly<Record<string, readonly Partition[]>>,
  live: readonly string[],
  ratio: number,
): boolean {
  const assigned = Object.keys(previous);
  if (assigned.length === 0) return true;
  const alive = assigned.filter((w) => live.includes(w)).length;
  return alive / assigned.length < ratio;
}

/** What a membership event does to the calculator's view of the group. */
export interface MembershipChange {
  readonly live: readonly string[];
  readonly suspects: readonly string[];
  readonly overdue: readonly string[];
  readonly dead: readonly string[];
  /** Workers not known before (start of a planned scale). */
  readonly joined: readonly string[];
  /** Suspects whose heartbeat is back (cancel their grace timer). */
  readonly returned: readonly string[];
  /** Workers that left gracefully (heartbeat DEL). */
  readonly left: readonly string[];
  /** Newly expired workers (start their grace timer). */
  readonly expired: readonly string[];
}

type MembershipView = Pick<CalculatorContext, 'workerId' | 'live' | 'suspects' | 'overdue' | 'dead'>;

/**
 * Apply a membership event. The leader itself is always live. A snapshot is a full listing:
 * unknown workers in it joined, suspects in it returned, live workers missing from it expired.
 */
export function applyMembership(view: MembershipView, event: MembershipEvent): MembershipChange {
  const { workerId: self, live, suspects, overdue, dead } = view;
  let joined: string[] = [];
  let returned: string[] = [];
  let left: string[] = [];
  let expired: string[] = [];
  switch (event.type) {
    case 'membership.snapshot': {
      const listed = new Set(event.workers);
      listed.add(self);
      joined = [...listed].filter((w) => !live.includes(w));
      returned = suspects.filter((w) => listed.has(w));
      expired = live.filter((w) => !listed.has(w) && !suspects.includes(w));
      break;
    }
    case 'membership.joined':
      if (suspects.includes(event.workerId)) returned = [event.workerId];
      else if (!live.includes(event.workerId)) joined = [event.workerId];
      break;
    case 'membership.left':
      if (event.workerId !== self && live.includes(event.workerId)) left = [event.workerId];
      break;
    case 'membership.expired':
      if (event.workerId !== self && live.includes(event.workerId) && !suspects.includes(event.workerId)) {
        expired = [event.workerId];
      }
      break;
  }
  return {
    live: without(sortedUnique([...live, ...joined]), left),
    suspects: without(sortedUnique([...suspects, ...expired]), [...returned, ...left]),
    overdue: without(overdue, [...returned, ...left]),
    dead: without(dead, joined),
    joined: joined.sort(),
    returned,
    left,
    expired: expired.sort(),
  };
}

/** Whether losing `workerId` changes the published assignment (true before the first publish). */
export function isPublished(ctx: Pick<CalculatorContext, 'published'>, workerId: string): boolean {
  return ctx.published === undefined || ctx.published.includes(workerId);
}

/** Confirm suspects as dead: they leave `live` and `suspects` and join `dead`. */
export function confirmDead(
  ctx: Pick<CalculatorContext, 'live' | 'suspects' | 'overdue' | 'dead'>,
  workers: readonly string[],
): Pick<CalculatorContext, 'live' | 'suspects' | 'overdue' | 'dead'> {
  const confirmed = workers.filter((w) => ctx.suspects.includes(w));
  return {
    live: without(ctx.live, confirmed),
    suspects: without(ctx.suspects, confirmed),
    overdue: without(ctx.overdue, confirmed),
    dead: sortedUnique([...ctx.dead, ...confirmed]),
  };
}

/** Overdue suspects to confirm when the recovery grace ends. */
export function overdueToConfirm(ctx: Pick<CalculatorContext, 'overdue' | 'suspects'>): string[] {
  return ctx.overdue.filter((w) => ctx.suspects.includes(w));
}

export type FollowUp = 'refresh' | 'emergency' | 'leave' | 'takeover' | 'scale' | 'idle';

/**
 * What follows a successful publish, given what happened meanwhile: a REFRESH first, then a
 * confirmed crash (emergency), a graceful leave, the takeover window of a new leader, joins
 * (a planned window), or nothing.
 */
export function followUp(
  ctx: Pick<CalculatorContext, 'pendingRefresh' | 'live' | 'published' | 'dead' | 'takeover'>,
): FollowUp {
  if (ctx.pendingRefresh) return 'refresh';
  const published = ctx.published ?? [];
  const removed = published.filter((w) => !ctx.live.includes(w));
  if (removed.some((w) => ctx.dead.includes(w))) return 'emergency';
  if (removed.length > 0) return 'leave';
  if (ctx.takeover !== undefined) return 'takeover';
  if (ctx.live.some((w) => !published.includes(w))) return 'scale';
  return 'idle';
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

function notProvided(name: string): Error {
  return new Error(`calculator actor "${name}" was not provided: supply it with calculatorMachine.provide({ actors })`);
}

const graceId = (workerId: string): string => `grace:${workerId}`;
const COOLDOWN_ID = 'cooldown';
const RECOVERY_ID = 'recovery';

function isMembershipEvent(e: { type: string }): e is MembershipEvent {
  return e.type.startsWith('membership.');
}

// ---------------------------------------------------------------------------------------------
// The machine
// ---------------------------------------------------------------------------------------------

export const calculatorMachine = setup({
  types: {
    context: {} as CalculatorContext,
    events: {} as CalculatorEvent,
    input: {} as CalculatorInput,
  },
  actors: {
    membershipWatch: fromEventObservable<MembershipEvent, { readonly workerId: string }>(() => {
      throw notProvided('membershipWatch');
    }),
    discoverAssignments: fromPromise<DiscoveredAssignments>(async () => {
      throw notProvided('discoverAssignments');
    }),
    rebalance: fromPromise<RebalanceOutput, RebalanceInput>(async () => {
      throw notProvided('rebalance');
    }),
  },
  delays: {
    coldStartWindow: ({ context }) => context.timings.coldStartWindow,
    plannedScaleWindow: ({ context }) => context.timings.plannedScaleWindow,
    emergencyGracePeriod: ({ context }) => context.timings.emergencyGracePeriod,
    minRebalanceInterval: ({ context }) => context.timings.minRebalanceInterval,
    recoveryGracePeriod: ({ context }) => context.timings.recoveryGracePeriod,
    retryBackoff: ({ context }) =>
      retryDelay(context.attempt, context.timings.rebalanceRetryBase, context.timings.rebalanceRetryMax),
  },
  guards: {
    /** Starting: both discovery and the first membership listing are in. */
    membershipKnown: ({ context }) => context.membershipKnown,
    /** A join/snapshot brings a worker not known before. */
    addsWorkers: ({ context, event }) => isMembershipEvent(event) && applyMembership(context, event).joined.length > 0,
    /** A graceful leave of a worker the current assignment covers. */
    removesPublishedWorker: ({ context, event }) =>
      isMembershipEvent(event) && applyMembership(context, event).left.some((w) => isPublished(context, w)),
    /** A grace timer that confirms a crash of a published worker (outside the recovery grace). */
    confirmsPublishedCrash: ({ context, event }) =>
      event.type === 'grace.expired' &&
      !context.recovering &&
      context.suspects.includes(event.workerId) &&
      isPublished(context, event.workerId),
    /** The end of the recovery grace confirms crashes of published workers. */
    overdueIncludesPublished: ({ context }) => overdueToConfirm(context).some((w) => isPublished(context, w)),
    isColdStartWindow: ({ context }) => context.lifecycle === 'cold_start',
    coolingDown: ({ context }) => context.coolingDown,
    retryIsEmergency: ({ context }) => context.lifecycle === 'emergency',
    followUpRefresh: ({ context }) => followUp(context) === 'refresh',
    followUpEmergency: ({ context }) => followUp(context) === 'emergency',
    followUpLeave: ({ context }) => followUp(context) === 'leave',
    followUpTakeover: ({ context }) => followUp(context) === 'takeover',
    followUpScale: ({ context }) => followUp(context) === 'scale',
  },
  actions: {
    /** Report a public state to the parent, once per change. */
    reportState: enqueueActions(({ context, enqueue }, params: { state: CalculatorState }) => {
      if (context.reported === params.state) return;
      enqueue.assign({ reported: params.state });
      enqueue.sendParent({ type: 'calculator.state', state: params.state } satisfies CalculatorToParentEvent);
    }),
    reportRetryState: enqueueActions(({ context, enqueue }) => {
      const state: CalculatorState = context.lifecycle === 'emergency' ? 'Emergency' : 'Rebalancing';
      if (context.reported === state) return;
      enqueue.assign({ reported: state });
      enqueue.sendParent({ type: 'calculator.state', state } satisfies CalculatorToParentEvent);
    }),
    reportError: sendParent((_, params: { error: unknown }) => ({
      type: 'calculator.error',
      error: toError(params.error),
    })),
    /** Fold a membership event into live/suspects and (re)arm or cancel grace timers. */
    trackMembership: enqueueActions(({ context, event, enqueue }) => {
      if (!isMembershipEvent(event)) return;
      const change = applyMembership(context, event);
      for (const w of [...change.returned, ...change.left]) enqueue.cancel(graceId(w));
      for (const w of change.expired) {
        enqueue.cancel(graceId(w));
        enqueue.raise({ type: 'grace.expired', workerId: w }, { id: graceId(w), delay: 'emergencyGracePeriod' });
      }
      enqueue.assign({
        live: change.live,
        suspects: change.suspects,
        overdue: change.overdue,
        dead: change.dead,
        membershipKnown: context.membershipKnown || event.type === 'membership.snapshot',
      });
    }),
    /** A grace timer fired: confirm the crash, or hold it while the recovery grace runs. */
    confirmSuspect: assign(({ context, event }) => {
      if (event.type !== 'grace.expired' || !context.suspects.includes(event.workerId)) return {};
      if (context.recovering) return { overdue: sortedUnique([...context.overdue, event.workerId]) };
      return confirmDead(context, [event.workerId]);
    }),
    startRecovery: enqueueActions(({ enqueue }) => {
      enqueue.assign({ recovering: true });
      enqueue.cancel(RECOVERY_ID);
      enqueue.raise({ type: 'recovery.ended' }, { id: RECOVERY_ID, delay: 'recoveryGracePeriod' });
    }),
    endRecovery: assign(({ context }) => ({
      recovering: false,
      ...confirmDead(context, overdueToConfirm(context)),
      overdue: [],
    })),
    recordDiscovery: assign((_, out: DiscoveredAssignments) => ({
      previous: out.previous,
      nextVersion: out.maxVersion + 1,
      attempt: 0,
    })),
    beginTakeover: assign(({ context }) => ({
      lifecycle: 'cold_start_immediate' as const,
      takeover: shouldUseColdStartWindow(context.previous, context.live, context.timings.restartDetectionRatio)
        ? ('cold_start' as const)
        : ('planned_scale' as const),
    })),
    /** Entry of Rebalancing/Emergency: fix the worker set and version of this attempt. */
    prepareRebalance: assign(({ context }) => ({
      inFlight: {
        workers: context.live,
        lifecycle: context.lifecycle,
        version: context.nextVersion,
        epoch: context.epoch,
        previous: context.previous,
      },
      // Every attempt lists partitions afresh, so an earlier REFRESH is served by it.
      pendingRefresh: false,
    })),
    recordPublish: enqueueActions(({ context, enqueue }, out: RebalanceOutput) => {
      const workers = context.inFlight?.workers ?? [];
      enqueue.assign({
        published: workers,
        previous: out.assignments,
        nextVersion: out.version + 1,
        dead: context.dead.filter((w) => workers.includes(w)),
        attempt: 0,
        coolingDown: true,
      });
      enqueue.sendParent({
        type: 'calculator.published',
        version: out.version,
        lifecycle: context.inFlight?.lifecycle ?? context.lifecycle,
        workers,
      } satisfies CalculatorToParentEvent);
      enqueue.cancel(COOLDOWN_ID);
      enqueue.raise({ type: 'cooldown.ended' }, { id: COOLDOWN_ID, delay: 'minRebalanceInterval' });
    }),
    bumpAttempt: assign(({ context }) => ({ attempt: context.attempt + 1 })),
  },
}).createMachine({
  id: 'calculator',
  context: ({ input }) => ({
    workerId: input.workerId,
    epoch: input.epoch,
    timings: input.timings,
    live: [input.workerId],
    suspects: [],
    overdue: [],
    dead: [],
    published: undefined,
    previous: {},
    nextVersion: 1,
    membershipKnown: false,
    takeover: undefined,
    lifecycle: 'cold_start_immediate',
    inFlight: undefined,
    pendingRefresh: false,
    coolingDown: false,
    recovering: false,
    attempt: 0,
    reported: undefined,
  }),
  invoke: {
    id: 'membership',
    src: 'membershipWatch',
    input: ({ context }) => ({ workerId: context.workerId }),
  },
  on: {
    'membership.snapshot': { actions: 'trackMembership' },
    'membership.joined': { actions: 'trackMembership' },
    'membership.left': { actions: 'trackMembership' },
    'membership.expired': { actions: 'trackMembership' },
    'grace.expired': { actions: 'confirmSuspect' },
    'cooldown.ended': { actions: assign({ coolingDown: false }) },
    RECOVERED: { actions: 'startRecovery' },
    'recovery.ended': { actions: 'endRecovery' },
    // While a publish is in flight: run another one right after it.
    REFRESH: { actions: assign({ pendingRefresh: true }) },
  },
  initial: 'Starting',
  states: {
    /** Discover existing assignments and wait for the first membership listing. */
    Starting: {
      entry: { type: 'reportState', params: { state: 'Rebalancing' } },
      initial: 'Discovering',
      on: {
        // The immediate publish is about to list partitions anyway.
        REFRESH: { actions: [] },
      },
      states: {
        Discovering: {
          invoke: {
            src: 'discoverAssignments',
            onDone: {
              target: 'AwaitingMembership',
              actions: { type: 'recordDiscovery', params: ({ event }) => event.output },
            },
            onError: {
              target: 'DiscoveryRetry',
              actions: [{ type: 'reportError', params: ({ event }) => ({ error: event.error }) }, 'bumpAttempt'],
            },
          },
        },
        // A new leader must not publish a version lower than what is stored: retry discovery.
        DiscoveryRetry: {
          after: { retryBackoff: 'Discovering' },
        },
        AwaitingMembership: {
          always: { guard: 'membershipKnown', target: '#calculator.Rebalancing', actions: 'beginTakeover' },
        },
      },
    },

    Idle: {
      entry: { type: 'reportState', params: { state: 'Idle' } },
      on: {
        'membership.snapshot': {
          guard: 'addsWorkers',
          target: 'Scaling',
          actions: ['trackMembership', assign({ lifecycle: 'planned_scale' })],
        },
        'membership.joined': {
          guard: 'addsWorkers',
          target: 'Scaling',
          actions: ['trackMembership', assign({ lifecycle: 'planned_scale' })],
        },
        'membership.left': {
          guard: 'removesPublishedWorker',
          target: 'Rebalancing',
          actions: ['trackMembership', assign({ lifecycle: 'graceful_leave' })],
        },
        'grace.expired': { guard: 'confirmsPublishedCrash', target: 'Emergency', actions: 'confirmSuspect' },
        'recovery.ended': { guard: 'overdueIncludesPublished', target: 'Emergency', actions: 'endRecovery' },
        REFRESH: { target: 'Rebalancing', actions: assign({ lifecycle: 'manual-refresh' }) },
      },
    },

    /** A planned window: joins during it are folded in, they do not extend it. */
    Scaling: {
      entry: { type: 'reportState', params: { state: 'Scaling' } },
      initial: 'Choosing',
      on: {
        'membership.left': {
          guard: 'removesPublishedWorker',
          target: 'Rebalancing',
          actions: ['trackMembership', assign({ lifecycle: 'graceful_leave' })],
        },
        'grace.expired': { guard: 'confirmsPublishedCrash', target: 'Emergency', actions: 'confirmSuspect' },
        'recovery.ended': { guard: 'overdueIncludesPublished', target: 'Emergency', actions: 'endRecovery' },
        REFRESH: { target: 'Rebalancing', actions: assign({ lifecycle: 'manual-refresh' }) },
      },
      states: {
        Choosing: {
          always: [{ guard: 'isColdStartWindow', target: 'ColdStartWindow' }, { target: 'PlannedWindow' }],
        },
        ColdStartWindow: { after: { coldStartWindow: 'WindowEnded' } },
        PlannedWindow: { after: { plannedScaleWindow: 'WindowEnded' } },
        WindowEnded: {
          always: [{ guard: 'coolingDown', target: 'Cooldown' }, { target: '#calculator.Rebalancing' }],
        },
        /** The window ended sooner than minRebalanceInterval after the last publish: wait the rest. */
        Cooldown: {
          on: {
            'cooldown.ended': { target: '#calculator.Rebalancing', actions: assign({ coolingDown: false }) },
          },
        },
      },
    },

    Rebalancing: {
      entry: [{ type: 'reportState', params: { state: 'Rebalancing' } }, 'prepareRebalance'],
      invoke: {
        src: 'rebalance',
        input: ({ context }) => context.inFlight!,
        onDone: { target: 'Deciding', actions: { type: 'recordPublish', params: ({ event }) => event.output } },
        onError: {
          target: 'RetryWait',
          actions: [{ type: 'reportError', params: ({ event }) => ({ error: event.error }) }, 'bumpAttempt'],
        },
      },
    },

    /** Publish without confirmed-dead workers, at once: never delayed by the cooldown. */
    Emergency: {
      entry: [
        { type: 'reportState', params: { state: 'Emergency' } },
        assign({ lifecycle: 'emergency' }),
        'prepareRebalance',
      ],
      invoke: {
        src: 'rebalance',
        input: ({ context }) => context.inFlight!,
        onDone: { target: 'Deciding', actions: { type: 'recordPublish', params: ({ event }) => event.output } },
        onError: {
          target: 'RetryWait',
          actions: [{ type: 'reportError', params: ({ event }) => ({ error: event.error }) }, 'bumpAttempt'],
        },
      },
    },

    /** A publish failed: wait with exponential backoff, then retry with the then-live workers. */
    RetryWait: {
      entry: 'reportRetryState',
      after: {
        retryBackoff: [{ guard: 'retryIsEmergency', target: 'Emergency' }, { target: 'Rebalancing' }],
      },
      on: {
        'grace.expired': { guard: 'confirmsPublishedCrash', target: 'Emergency', actions: 'confirmSuspect' },
        'recovery.ended': { guard: 'overdueIncludesPublished', target: 'Emergency', actions: 'endRecovery' },
        REFRESH: { target: 'Rebalancing', actions: assign({ lifecycle: 'manual-refresh' }) },
      },
    },

    /** Transient: what follows a successful publish. */
    Deciding: {
      always: [
        { guard: 'followUpRefresh', target: 'Rebalancing', actions: assign({ lifecycle: 'manual-refresh' }) },
        { guard: 'followUpEmergency', target: 'Emergency' },
        { guard: 'followUpLeave', target: 'Rebalancing', actions: assign({ lifecycle: 'graceful_leave' }) },
        {
          guard: 'followUpTakeover',
          target: 'Scaling',
          actions: assign(({ context }) => ({ lifecycle: context.takeover ?? 'planned_scale', takeover: undefined })),
        },
        { guard: 'followUpScale', target: 'Scaling', actions: assign({ lifecycle: 'planned_scale' }) },
        { target: 'Idle' },
      ],
    },
  },
});

export type CalculatorMachine = typeof calculatorMachine;
