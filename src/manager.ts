/**
 * The Manager facade: validates options, wires the worker machine to its services, starts the
 * actor and turns its snapshots into getters, Observables, promises and hook calls. It decides
 * nothing itself: the statechart does.
 */
import { BehaviorSubject, type Observable } from 'rxjs';
import { createActor, type Actor, type InspectionEvent, type Observer } from 'xstate';
import { createNatsKvStore } from './adapters/nats-kv.js';
import type { KvStore } from './adapters/kv-port.js';
import { diffPartitions } from './assignment-delta.js';
import { resolveConfig, type PartiConfig, type PartiConfigInput } from './config.js';
import {
  AbortError,
  AlreadyStartedError,
  InvalidConfigError,
  NotStartedError,
  PartiError,
  TimeoutError,
} from './errors.js';
import { HookRunner } from './hook-runner.js';
import { silentLogger } from './logger.js';
import { workerMachine, workerStateOf, type WorkerSnapshot } from './machines/worker.machine.js';
import { openPartiBuckets } from './services/buckets.js';
import type { PartiBuckets, ServiceDeps } from './services/deps.js';
import { WriteLedger } from './services/write-ledger.js';
import { provideWorkerServices } from './services/index.js';
import { defaultStrategy } from './strategies/index.js';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Assignment, AssignmentStrategy, Hooks, Logger, PartitionSource, WorkerState } from './types.js';

export interface ManagerOptions {
  /** An open NATS connection (the Manager never closes it). Ignored when `store` is given. */
  readonly connection?: NatsConnection;
  /** A KV store to use instead of NATS (the in-memory one in tests). */
  readonly store?: KvStore;
  readonly source: PartitionSource;
  /** Defaults to the library's default strategy (see README). */
  readonly strategy?: AssignmentStrategy;
  readonly config?: PartiConfigInput;
  readonly hooks?: Hooks;
  /** pino or any pino-compatible logger. Silent when absent. */
  readonly logger?: Logger;
  /** Passed to XState's createActor: see every event and snapshot (e.g. the Stately inspector). */
  readonly inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
}

export interface StartOptions {
  readonly signal?: AbortSignal;
}

export interface WaitStateOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** States in which the worker holds an assignment and serves it. */
const SERVING: ReadonlySet<WorkerState> = new Set(['Stable', 'Scaling', 'Rebalancing', 'Emergency']);

type WorkerActor = Actor<typeof workerMachine>;

export class Manager implements AsyncDisposable {
  readonly config: PartiConfig;
  /** The XState actor, for embedding and inspection. */
  readonly actor: WorkerActor;

  readonly #options: ManagerOptions;
  readonly #logger: Logger;
  readonly #hooks: HookRunner;
  readonly #state$: BehaviorSubject<WorkerState>;
  readonly #assignment$: BehaviorSubject<Assignment | undefined>;
  #store: KvStore | undefined;
  #buckets: Promise<PartiBuckets> | undefined;
  #started = false;
  /** The actor was started (an unstarted actor reports status 'active' too). */
  #actorStarted = false;
  #stopping: Promise<void> | undefined;
  #last: WorkerSnapshot;

  constructor(options: ManagerOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidConfigError('options', 'must be an object');
    if (!options.store && !options.connection) {
      throw new InvalidConfigError('connection', 'a NATS connection (or a KvStore as `store`) is required');
    }
    if (typeof options.source?.listPartitions !== 'function') {
      throw new InvalidConfigError('source', 'must be a PartitionSource with listPartitions()');
    }
    if (options.strategy !== undefined && typeof options.strategy.assign !== 'function') {
      throw new InvalidConfigError('strategy', 'must be an AssignmentStrategy with assign()');
    }
    this.#options = options;
    this.config = resolveConfig(options.config ?? {});
    this.#logger = (options.logger ?? silentLogger).child({ component: 'parti' });
    this.#hooks = new HookRunner(options.hooks ?? {}, this.#logger);
    this.#store = options.store;

    const requireStore = () => this.#requireStore();
    const deps: ServiceDeps = {
      config: this.config,
      // Created in start() (it needs the server's version); services run only after that.
      get store(): KvStore {
        return requireStore();
      },
      buckets: () => (this.#buckets ??= openPartiBuckets(this.#requireStore(), this.config)),
      source: options.source,
      strategy: options.strategy ?? defaultStrategy(),
      logger: this.#logger,
      status: () => ({
        state: workerStateOf(this.#last),
        leader: this.#last.context.leader,
        version: this.#last.context.assignment?.version,
      }),
      writes: new WriteLedger(),
      now: () => Date.now(),
    };

    this.actor = createActor(provideWorkerServices(workerMachine, deps), {
      input: { config: this.config },
      ...(options.inspect ? { inspect: options.inspect } : {}),
    });
    this.#last = this.actor.getSnapshot();
    this.#state$ = new BehaviorSubject<WorkerState>('Init');
    this.#assignment$ = new BehaviorSubject<Assignment | undefined>(undefined);
    this.actor.subscribe({
      next: (snapshot) => this.#onSnapshot(snapshot),
      error: (err) => this.#logger.error({ err }, 'worker actor failed'),
    });
    this.actor.on('worker.error', (e) => {
      this.#logger.warn({ err: e.error, source: e.source }, 'worker error');
      this.#hooks.error(e.error);
    });
    this.actor.on('worker.published', (e) => {
      this.#logger.info({ version: e.version, lifecycle: e.lifecycle, workers: e.workers.length }, 'assignment published');
    });
  }

  get workerId(): string | undefined {
    return this.#last.context.workerId;
  }
  get isLeader(): boolean {
    return this.#last.context.leader;
  }
  get state(): WorkerState {
    return this.#state$.value;
  }
  get assignment(): Assignment | undefined {
    return this.#last.context.assignment;
  }
  /** Current state first, then every change. Completes after Shutdown. */
  get state$(): Observable<WorkerState> {
    return this.#state$.asObservable();
  }
  /** Current assignment (undefined until the first one), then every change. Completes after Shutdown. */
  get assignment$(): Observable<Assignment | undefined> {
    return this.#assignment$.asObservable();
  }

  /**
   * Claims an ID, joins the group and resolves once this worker holds its first assignment.
   * Rejects with AlreadyStartedError (second or concurrent call), AbortError (signal, or stop()
   * during start), TimeoutError (config.startTimeout) or the error that stopped the worker
   * (IdPoolExhaustedError, KV errors…). After a rejection the worker has shut down cleanly.
   */
  start(options: StartOptions = {}): Promise<void> {
    if (this.#started) return Promise.reject(new AlreadyStartedError());
    this.#started = true;
    const { signal } = options;
    if (this.#stopping) return Promise.reject(new NotStartedError('start'));
    if (signal?.aborted) return Promise.reject(new AbortError('start aborted before it began', { cause: signal.reason }));
    return this.#start(signal);
  }

  async #start(signal: AbortSignal | undefined): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => this.actor.send({ type: 'ABORT', reason: signal?.reason });
    try {
      if (!this.#store) this.#store = await createNatsKvStore(this.#options.connection!, { logger: this.#logger });
      if (signal?.aborted) throw new AbortError('start aborted', { cause: signal.reason });
      signal?.addEventListener('abort', onAbort, { once: true });
      let timedOut = false;
      if (this.config.startTimeout > 0) {
        timer = setTimeout(() => {
          timedOut = true;
          this.actor.send({ type: 'STOP' });
        }, this.config.startTimeout);
      }
      this.#actorStarted = true;
      this.actor.start();
      this.actor.send({ type: 'START' });
      const snapshot = await this.#until((s) => SERVING.has(workerStateOf(s)) || s.status !== 'active');
      if (SERVING.has(workerStateOf(snapshot))) return;
      // The worker stopped before serving: say why.
      await this.#until((s) => s.status !== 'active');
      const ctx = this.#last.context;
      if (timedOut) throw new TimeoutError('the first assignment (config.startTimeout)', this.config.startTimeout);
      if (ctx.stopReason === 'abort') throw new AbortError('start aborted', { cause: ctx.abortReason });
      if (ctx.fatalError) throw ctx.fatalError;
      throw new AbortError('stop() was called before the worker was Stable');
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Leaves the group gracefully: stops every service, deletes the heartbeat (the leader
   * reassigns at once), releases leadership and the worker ID. Idempotent: every caller gets
   * the same promise, which resolves (never rejects) once the worker is shut down.
   */
  stop(): Promise<void> {
    return (this.#stopping ??= this.#stop());
  }

  async #stop(): Promise<void> {
    const status = this.actor.getSnapshot().status;
    if (status === 'active' && this.#actorStarted) {
      this.actor.send({ type: 'STOP' });
      await this.#until((s) => s.status !== 'active');
    }
    this.actor.stop();
    await this.#hooks.idle();
    this.#state$.complete();
    this.#assignment$.complete();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Resolves when the worker enters `state`; rejects with TimeoutError, AbortError or NotStartedError (shut down first). */
  waitState(state: WorkerState, options: WaitStateOptions = {}): Promise<void> {
    const { timeoutMs, signal } = options;
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(new AbortError('waitState aborted', { cause: signal.reason }));
      let timer: NodeJS.Timeout | undefined;
      const done = (err?: Error) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        sub.unsubscribe();
        if (err) reject(err);
        else resolve();
      };
      const onAbort = () => done(new AbortError('waitState aborted', { cause: signal?.reason }));
      const sub = this.#state$.subscribe({
        next: (s) => {
          if (s === state) queueMicrotask(() => done());
        },
        complete: () => queueMicrotask(() => done(new NotStartedError(`waitState(${state})`))),
      });
      if (sub.closed) return;
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) timer = setTimeout(() => done(new TimeoutError(`state ${state}`, timeoutMs)), timeoutMs);
    });
  }

  /**
   * Asks the leader to re-read the partition source and publish at once (bypassing windows and
   * the cooldown). On the leader it resolves when that publish is done; on a follower it is a
   * no-op (the leader's source is the one that counts).
   */
  async refreshPartitions(options: { timeoutMs?: number } = {}): Promise<void> {
    if (!this.#started || this.#stopping || this.actor.getSnapshot().status !== 'active') {
      throw new NotStartedError('refreshPartitions');
    }
    if (!this.isLeader) return;
    const timeoutMs = options.timeoutMs ?? 30_000;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => finish(new TimeoutError('the refresh publish', timeoutMs)), timeoutMs);
      const subs = [
        this.actor.on('worker.published', (e) => {
          if (e.lifecycle === 'manual-refresh') finish();
        }),
        this.actor.on('worker.error', (e) => {
          if (e.source === 'calculator') finish(e.error);
        }),
        // Shut down (or lost leadership) while waiting: no publish is coming.
        this.actor.subscribe((snap) => {
          if (snap.status !== 'active' || workerStateOf(snap) === 'Shutdown') finish(new NotStartedError('refreshPartitions'));
          else if (!snap.context.leader) finish(); // the new leader publishes on takeover anyway
        }),
      ];
      const finish = (err?: Error) => {
        clearTimeout(timer);
        for (const s of subs) s.unsubscribe();
        if (err) reject(err instanceof PartiError ? err : new Error(String(err)));
        else resolve();
      };
      this.actor.send({ type: 'REFRESH' });
    });
  }

  #requireStore(): KvStore {
    if (!this.#store) throw new NotStartedError('KV store');
    return this.#store;
  }

  /** Resolves with the first snapshot (current or future) that satisfies `pred`. */
  #until(pred: (s: WorkerSnapshot) => boolean): Promise<WorkerSnapshot> {
    const now = this.actor.getSnapshot();
    if (pred(now)) return Promise.resolve(now);
    return new Promise((resolve) => {
      const sub = this.actor.subscribe({
        next: (s) => {
          if (pred(s)) {
            sub.unsubscribe();
            resolve(s);
          }
        },
        error: () => {
          sub.unsubscribe();
          resolve(this.actor.getSnapshot());
        },
        complete: () => resolve(this.actor.getSnapshot()),
      });
    });
  }

  #onSnapshot(snapshot: WorkerSnapshot): void {
    const prev = this.#last;
    this.#last = snapshot;
    const before = prev.context.assignment;
    const after = snapshot.context.assignment;
    if (before !== after) {
      const { added, removed } = diffPartitions(before?.partitions ?? [], after?.partitions ?? []);
      this.#hooks.assignmentChanged({
        added,
        removed,
        current: after?.partitions ?? [],
        version: after?.version ?? before?.version ?? 0,
        epoch: after?.epoch,
      });
      this.#assignment$.next(after);
    }
    const from = this.#state$.value;
    const to = workerStateOf(snapshot);
    if (from !== to) {
      this.#logger.info({ workerId: snapshot.context.workerId, from, to }, 'state transition');
      this.#hooks.stateChanged({ from, to });
      this.#state$.next(to);
    }
  }
}

/** Creates a Manager (not started). Throws InvalidConfigError on bad options. */
export function createManager(options: ManagerOptions): Manager {
  return new Manager(options);
}
