/**
 * Test helpers for the services: a small in-memory KvBucket with fault injection (until the shared
 * in-memory adapter is available, and still useful for faults), ServiceDeps with short timings,
 * and an event collector for the services' Observables.
 */
import { Observable, Subject, type Subscription } from 'rxjs';
import type {
  ConnectionStatus,
  KvBucket,
  KvEntry,
  KvOperation,
  KvStore,
  KvWatchEvent,
  KvWatchOptions,
} from '../../../src/adapters/kv-port.js';
import { resolveConfig, type PartiConfigInput } from '../../../src/config.js';
import { KvUnavailableError, RevisionMismatchError } from '../../../src/errors.js';
import type { PartiBuckets, ServiceDeps, WorkerStatus } from '../../../src/services/deps.js';
import type { Logger } from '../../../src/types.js';

const noop = (): void => {};
export const silent: Logger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, child: () => silent };

export type Op = 'get' | 'create' | 'update' | 'put' | 'delete' | 'keys';
/** A fault: throw this error, or 'hang' (never settle), for the operation on the key. Undefined = proceed. */
export type Fault = (op: Op, key: string) => Error | 'hang' | undefined;

function matches(pattern: string, key: string): boolean {
  if (pattern === key) return true;
  const re = new RegExp(
    '^' +
      pattern
        .split('.')
        .map((t) => (t === '*' ? '[^.]+' : t === '>' ? '.+' : t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('\\.') +
      '$',
  );
  return re.test(key);
}

/** A KvBucket in memory. Revisions come from one counter per bucket, as stream sequences do. */
export class FakeBucket implements KvBucket {
  readonly name: string;
  expiryObservable = true;
  fault: Fault | undefined;
  /** When false, watches deliver nothing live (a server without expiry markers, or a lagging watch). */
  liveWatch = true;
  /** The next this many watch subscriptions fail at once with KvUnavailableError. */
  failWatches = 0;
  watchSubscriptions = 0;
  readonly calls: { op: Op; key: string }[] = [];
  #seq = 0;
  readonly #last = new Map<string, KvEntry>();
  readonly #changes = new Subject<KvEntry>();
  #watchers = 0;

  constructor(name: string) {
    this.name = name;
  }

  get activeWatches(): number {
    return this.#watchers;
  }

  /** The live entry (test inspection, no fault, not recorded). */
  peek(key: string): KvEntry | null {
    const e = this.#last.get(key);
    return e && e.operation === 'PUT' ? e : null;
  }

  async #guard(op: Op, key: string): Promise<void> {
    this.calls.push({ op, key });
    await Promise.resolve();
    const f = this.fault?.(op, key);
    if (f === 'hang') return new Promise<never>(() => {});
    if (f) throw f;
  }

  #write(key: string, value: string, operation: KvOperation, expired = false): number {
    const entry: KvEntry = { key, value, revision: ++this.#seq, operation, expired, created: new Date() };
    this.#last.set(key, entry);
    this.#changes.next(entry);
    return entry.revision;
  }

  async get(key: string): Promise<KvEntry | null> {
    await this.#guard('get', key);
    return this.peek(key);
  }

  async create(key: string, value: string): Promise<number> {
    await this.#guard('create', key);
    if (this.peek(key)) throw new RevisionMismatchError(key);
    return this.#write(key, value, 'PUT');
  }

  async update(key: string, value: string, revision: number): Promise<number> {
    await this.#guard('update', key);
    if (this.#last.get(key)?.revision !== revision) throw new RevisionMismatchError(key);
    return this.#write(key, value, 'PUT');
  }

  async put(key: string, value: string): Promise<number> {
    await this.#guard('put', key);
    return this.#write(key, value, 'PUT');
  }

  async delete(key: string, options?: { readonly revision?: number }): Promise<void> {
    await this.#guard('delete', key);
    if (options?.revision !== undefined && this.#last.get(key)?.revision !== options.revision) {
      throw new RevisionMismatchError(key);
    }
    this.#write(key, '', 'DEL');
  }

  async keys(filter?: string): Promise<string[]> {
    await this.#guard('keys', filter ?? '>');
    return [...this.#last.values()]
      .filter((e) => e.operation === 'PUT' && (filter === undefined || matches(filter, e.key)))
      .map((e) => e.key);
  }

  /** Test control: the server expires a key (a PURGE marker). */
  expire(key: string): void {
    this.#write(key, '', 'PURGE', true);
  }

  /** Test control: write without faults or recording (another process). */
  set(key: string, value: string): number {
    return this.#write(key, value, 'PUT');
  }

  watch(options: KvWatchOptions): Observable<KvWatchEvent> {
    return new Observable<KvWatchEvent>((sub) => {
      this.watchSubscriptions++;
      if (this.failWatches > 0) {
        this.failWatches--;
        sub.error(new KvUnavailableError('watch'));
        return;
      }
      this.#watchers++;
      if (!options.updatesOnly) {
        for (const e of this.#last.values()) {
          if (e.operation === 'PUT' && matches(options.key, e.key)) sub.next({ kind: 'entry', entry: e, isUpdate: false });
        }
      }
      sub.next({ kind: 'caught-up' });
      const s: Subscription = this.#changes.subscribe((e) => {
        if (this.liveWatch && matches(options.key, e.key)) sub.next({ kind: 'entry', entry: e, isUpdate: true });
      });
      return () => {
        this.#watchers--;
        s.unsubscribe();
      };
    });
  }
}

export class FakeStore implements KvStore {
  readonly features = { version: '2.11.0', expiryMarkers: true };
  readonly statusSubject = new Subject<ConnectionStatus>();
  readonly status$ = this.statusSubject.asObservable();
  readonly buckets = new Map<string, FakeBucket>();

  async openBucket(spec: { name: string }): Promise<FakeBucket> {
    let b = this.buckets.get(spec.name);
    if (!b) {
      b = new FakeBucket(spec.name);
      this.buckets.set(spec.name, b);
    }
    return b;
  }
}

export interface TestKv {
  readonly store: FakeStore;
  readonly stableId: FakeBucket;
  readonly election: FakeBucket;
  readonly heartbeat: FakeBucket;
  readonly assignment: FakeBucket;
}

export function fakeKv(): TestKv {
  const store = new FakeStore();
  const mk = (n: string): FakeBucket => {
    const b = new FakeBucket(n);
    store.buckets.set(n, b);
    return b;
  };
  return { store, stableId: mk('stableid'), election: mk('election'), heartbeat: mk('heartbeat'), assignment: mk('assignment') };
}

/** Short timings: lease periods of 50 ms, heartbeats every 10 ms, degraded thresholds of 60 ms. */
export const testConfigInput: PartiConfigInput = {
  heartbeatInterval: 10,
  heartbeatTtl: 40,
  workerIdTtl: 150,
  electionTimeout: 150,
  workerIdMin: 0,
  workerIdMax: 9,
  degraded: { enterThreshold: 60, exitThreshold: 60 },
};

export function makeDeps(
  kv: TestKv,
  overrides: { config?: PartiConfigInput; status?: () => WorkerStatus } = {},
): ServiceDeps {
  const config = resolveConfig({ ...testConfigInput, ...overrides.config });
  const buckets: PartiBuckets = kv;
  return {
    config,
    store: kv.store,
    buckets: () => Promise.resolve(buckets),
    source: { listPartitions: async () => [] },
    strategy: { name: 'none', version: 1, assign: () => new Map() },
    logger: silent,
    status: overrides.status ?? (() => ({ state: 'Stable', leader: false, version: 3 })),
    now: () => Date.now(),
  };
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

export const delay = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));
