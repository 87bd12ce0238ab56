/**
 * Test helpers for the services: the shared in-memory KV store (real CAS, TTL and expiry-marker
 * semantics) behind a thin instrumented wrapper that records calls and injects faults, ServiceDeps
 * with short timings, and an event recorder for the services' Observables.
 */
import { Observable, filter, finalize } from 'rxjs';
import type { KvBucket, KvEntry, KvWatchEvent, KvWatchOptions } from '../../../src/adapters/kv-port.js';
import { MemoryKvStore } from '../../../src/adapters/memory-kv.js';
import { resolveConfig, type PartiConfigInput } from '../../../src/config.js';
import { KvUnavailableError } from '../../../src/errors.js';
import { openPartiBuckets } from '../../../src/services/buckets.js';
import type { PartiBuckets, ServiceDeps, WorkerStatus } from '../../../src/services/deps.js';
import { testServiceDeps } from '../support/service-deps.js';

const noop = (): void => {};

export type Op = 'get' | 'create' | 'update' | 'put' | 'delete' | 'keys';
/** A fault: throw this error, or 'hang' (never settle), for the operation on the key. Undefined = proceed. */
export type Fault = (op: Op, key: string) => Error | 'hang' | undefined;

/** A KvBucket wrapper: records calls, injects faults, counts watches. `peek`/`set` bypass both. */
export class TestBucket implements KvBucket {
  fault: Fault | undefined;
  /** When false, watches deliver no live entries (as if expiry/deletes were never observed). */
  liveWatch = true;
  /** The next this many watch subscriptions fail at once with KvUnavailableError. */
  failWatches = 0;
  watchSubscriptions = 0;
  activeWatches = 0;
  readonly calls: { op: Op; key: string }[] = [];

  constructor(private readonly inner: KvBucket) {}

  get name(): string {
    return this.inner.name;
  }

  get expiryObservable(): boolean {
    return this.inner.expiryObservable;
  }

  /** The live entry, as another process would read it (no fault, not recorded). */
  peek(key: string): Promise<KvEntry | null> {
    return this.inner.get(key);
  }

  /** A write by another process (no fault, not recorded). */
  set(key: string, value: string): Promise<number> {
    return this.inner.put(key, value);
  }

  /** A delete by another process (no fault, not recorded). */
  remove(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  async #guard<T>(op: Op, key: string, run: () => Promise<T>): Promise<T> {
    this.calls.push({ op, key });
    const f = this.fault?.(op, key);
    if (f === 'hang') return new Promise<never>(noop);
    if (f) throw f;
    return run();
  }

  get(key: string): Promise<KvEntry | null> {
    return this.#guard('get', key, () => this.inner.get(key));
  }

  create(key: string, value: string): Promise<number> {
    return this.#guard('create', key, () => this.inner.create(key, value));
  }

  update(key: string, value: string, revision: number): Promise<number> {
    return this.#guard('update', key, () => this.inner.update(key, value, revision));
  }

  put(key: string, value: string): Promise<number> {
    return this.#guard('put', key, () => this.inner.put(key, value));
  }

  delete(key: string, options?: { readonly revision?: number }): Promise<void> {
    return this.#guard('delete', key, () => this.inner.delete(key, options));
  }

  keys(pattern?: string): Promise<string[]> {
    return this.#guard('keys', pattern ?? '>', () => this.inner.keys(pattern));
  }

  watch(options: KvWatchOptions): Observable<KvWatchEvent> {
    return new Observable<KvWatchEvent>((sub) => {
      this.watchSubscriptions++;
      if (this.failWatches > 0) {
        this.failWatches--;
        sub.error(new KvUnavailableError('watch'));
        return undefined;
      }
      this.activeWatches++;
      return this.inner
        .watch(options)
        .pipe(
          filter((e) => this.liveWatch || e.kind !== 'entry' || !e.isUpdate),
          finalize(() => this.activeWatches--),
        )
        .subscribe(sub);
    });
  }
}

export interface TestKv {
  readonly store: MemoryKvStore;
  readonly deps: ServiceDeps;
  readonly stableId: TestBucket;
  readonly election: TestBucket;
  readonly heartbeat: TestBucket;
  readonly assignment: TestBucket;
}

/**
 * Short timings: ID and leader leases of 300 ms (renewed every 100 ms), heartbeats every 20 ms
 * (TTL 200 ms), degraded thresholds of 100 ms. Bucket TTLs follow the config, as in production.
 * (Not shorter: on a loaded machine timers slip by tens of ms, and a lease must survive that.)
 */
export const testConfigInput: PartiConfigInput = {
  heartbeatInterval: 20,
  heartbeatTtl: 200,
  workerIdTtl: 300,
  electionTimeout: 300,
  workerIdMin: 0,
  workerIdMax: 9,
  degraded: { enterThreshold: 100, exitThreshold: 100 },
};

const open: MemoryKvStore[] = [];

/** A fresh memory store with the four buckets opened as the services open them, and deps over it. */
export async function testKv(
  overrides: { config?: PartiConfigInput; status?: () => WorkerStatus; expiryMarkers?: boolean } = {},
): Promise<TestKv> {
  const config = resolveConfig({ ...testConfigInput, ...overrides.config });
  const store = new MemoryKvStore({ features: { expiryMarkers: overrides.expiryMarkers ?? true } });
  open.push(store);
  const b = await openPartiBuckets(store, config);
  const buckets = {
    stableId: new TestBucket(b.stableId),
    election: new TestBucket(b.election),
    heartbeat: new TestBucket(b.heartbeat),
    assignment: new TestBucket(b.assignment),
  } satisfies PartiBuckets;
  const deps = testServiceDeps(
    { config, store, buckets },
    { status: overrides.status ?? (() => ({ state: 'Stable', leader: false, version: 3 })) },
  );
  return { store, deps, ...buckets };
}

/** Closes every store opened by testKv (clears its TTL timers). Call from afterEach. */
export async function closeStores(): Promise<void> {
  await Promise.all(open.splice(0).map((s) => s.close()));
}

/** Subscribes and records every value; `done`/`error` record termination. Unsubscribe with `stop()`. */
export interface Recorder<T> {
  readonly events: T[];
  done: boolean;
  error: unknown;
  stop(): void;
  of<K extends string>(type: K): Extract<T, { type: K }>[];
}

export function record<T extends { type: string }>(o: Observable<T>): Recorder<T> {
  const r: Recorder<T> = {
    events: [],
    done: false,
    error: undefined,
    stop: () => sub.unsubscribe(),
    of: <K extends string>(type: K) => r.events.filter((e): e is Extract<T, { type: K }> => e.type === type),
  };
  const sub = o.subscribe({
    next: (e) => r.events.push(e),
    error: (err: unknown) => {
      r.error = err;
    },
    complete: () => {
      r.done = true;
    },
  });
  return r;
}

/** Lets time pass, for negative checks only ("nothing happened meanwhile"). */
export const delay = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));
