/**
 * An in-memory KV store implementing the same port as nats-kv.ts, for unit tests of services.
 * It mimics NATS KV with history 1 as the conformance suite pins it down:
 *
 * - one revision counter per bucket (the stream sequence); each write gets the next one;
 * - CAS exactly as the server checks "expected last subject sequence": `create` fails only over
 *   a live PUT; `update`/`delete` compare with the revision of the key's last message (a
 *   tombstone included, 0 when the key has none);
 * - DEL tombstones; bucket TTL: every message (tombstones too) is dropped `ttlMs` after it was
 *   written; when the bucket has expiry markers, a PURGE with `expired: true` takes its place
 *   (and is itself dropped after the marker TTL), otherwise it vanishes silently, as on 2.10;
 * - watches replay the last message per matching key (tombstones included) in revision order,
 *   then 'caught-up', then live changes; delivery is asynchronous (a microtask), never inside the
 *   write call.
 *
 * Time comes from an injectable clock (xstate's SimulatedClock fits) or real timers; `close()`
 * clears every timer. `setOnline(false)` simulates an outage: calls reject with
 * KvUnavailableError, watches pause and resume after `setOnline(true)` from their last revision.
 */
import { Observable, Subject, type Subscriber } from 'rxjs';
import { KvUnavailableError, RevisionMismatchError } from '../errors.js';
import { assertValidBucketName, assertValidFilter, assertValidKey, keyMatches } from './key-pattern.js';
import type {
  ConnectionStatus,
  KvBucket,
  KvBucketSpec,
  KvEntry,
  KvOperation,
  KvStore,
  KvWatchEvent,
  KvWatchOptions,
  ServerFeatures,
} from './kv-port.js';

/** The time source of the memory store. xstate's SimulatedClock satisfies it. */
export interface MemoryKvClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

export const realClock: MemoryKvClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};

export interface MemoryKvStoreOptions {
  /** Default: a 2.11-like server with expiry markers. Pass `{ expiryMarkers: false }` to act as 2.10. */
  readonly features?: Partial<ServerFeatures>;
  readonly clock?: MemoryKvClock;
}

const MIN_MARKER_TTL_MS = 1_000;

export function createMemoryKvStore(opts: MemoryKvStoreOptions = {}): MemoryKvStore {
  return new MemoryKvStore(opts);
}

export class MemoryKvStore implements KvStore, AsyncDisposable {
  readonly features: ServerFeatures;
  readonly clock: MemoryKvClock;
  private readonly buckets = new Map<string, BucketState>();
  private readonly status = new Subject<ConnectionStatus>();
  readonly status$: Observable<ConnectionStatus> = this.status.asObservable();
  private online = true;
  private closed = false;

  constructor(opts: MemoryKvStoreOptions = {}) {
    this.features = { version: '2.11.0', expiryMarkers: true, ...opts.features };
    this.clock = opts.clock ?? realClock;
  }

  async openBucket(spec: KvBucketSpec): Promise<KvBucket> {
    assertValidBucketName(spec.name, 'openBucket');
    this.assertAvailable('openBucket');
    let state = this.buckets.get(spec.name);
    if (state === undefined) {
      const markers = spec.expiryMarkers === true && this.features.expiryMarkers;
      state = new BucketState(this, spec.name, spec.ttlMs, markers ? Math.max(MIN_MARKER_TTL_MS, spec.ttlMs) : 0);
      this.buckets.set(spec.name, state);
    }
    return new MemoryKvBucket(state);
  }

  /** Simulates losing (false) and regaining (true) the connection; emits disconnect/reconnect. */
  setOnline(online: boolean): void {
    if (this.closed || online === this.online) return;
    this.online = online;
    if (!online) {
      this.status.next({ type: 'disconnect' });
      this.status.next({ type: 'reconnecting' });
    } else {
      this.status.next({ type: 'reconnect' });
      for (const b of this.buckets.values()) b.resumeWatchers();
    }
  }

  get isOnline(): boolean {
    return this.online && !this.closed;
  }

  /** Clears every timer, errors open watches with KvUnavailableError, emits 'close'. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const b of this.buckets.values()) b.close();
    this.status.next({ type: 'close' });
    this.status.complete();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** @internal */
  assertAvailable(operation: string): void {
    if (this.closed) throw new KvUnavailableError(operation, { cause: new Error('memory store closed') });
    if (!this.online) throw new KvUnavailableError(operation, { cause: new Error('memory store offline') });
  }
}

interface StoredMsg {
  readonly entry: KvEntry;
  timer: unknown;
}

class BucketState {
  private seq = 0;
  /** Last message per key (history 1). */
  private readonly last = new Map<string, StoredMsg>();
  readonly watchers = new Set<MemoryWatcher>();

  constructor(
    readonly store: MemoryKvStore,
    readonly name: string,
    private readonly ttlMs: number,
    /** 0: no expiry markers. */
    readonly markerTtlMs: number,
  ) {}

  /** The bucket's latest revision (0 when nothing was ever written). */
  get revision(): number {
    return this.seq;
  }

  current(key: string): KvEntry | undefined {
    return this.last.get(key)?.entry;
  }

  write(key: string, value: string, operation: KvOperation, expired = false): number {
    const entry: KvEntry = {
      key,
      value,
      revision: ++this.seq,
      operation,
      expired,
      created: new Date(this.store.clock.now()),
    };
    const prev = this.last.get(key);
    if (prev !== undefined) this.store.clock.clearTimeout(prev.timer);
    const msg: StoredMsg = { entry, timer: undefined };
    const lifetime = expired ? this.markerTtlMs : this.ttlMs;
    if (lifetime > 0) msg.timer = this.store.clock.setTimeout(() => this.expire(msg), lifetime);
    this.last.set(key, msg);
    for (const w of this.watchers) w.offer(entry);
    return entry.revision;
  }

  private expire(msg: StoredMsg): void {
    const { key } = msg.entry;
    if (this.last.get(key) !== msg) return;
    this.last.delete(key);
    // A marker's own expiry leaves nothing behind; a message's expiry leaves a marker if enabled.
    if (this.markerTtlMs > 0 && !msg.entry.expired) this.write(key, '', 'PURGE', true);
  }

  /** Last messages (tombstones included) matching `filter`, in revision order. */
  snapshot(filter: string, afterRevision = 0): KvEntry[] {
    const out: KvEntry[] = [];
    for (const m of this.last.values()) {
      if (m.entry.revision > afterRevision && keyMatches(filter, m.entry.key)) out.push(m.entry);
    }
    return out.sort((a, b) => a.revision - b.revision);
  }

  resumeWatchers(): void {
    for (const w of this.watchers) w.resume();
  }

  close(): void {
    for (const m of this.last.values()) this.store.clock.clearTimeout(m.timer);
    for (const w of [...this.watchers]) w.fail(new KvUnavailableError('watch', { cause: new Error('memory store closed') }));
    this.watchers.clear();
  }
}

class MemoryKvBucket implements KvBucket {
  readonly name: string;
  readonly expiryObservable: boolean;

  constructor(private readonly state: BucketState) {
    this.name = state.name;
    this.expiryObservable = state.markerTtlMs > 0;
  }

  async get(key: string): Promise<KvEntry | null> {
    this.check(key, 'get');
    const e = this.state.current(key);
    return e !== undefined && e.operation === 'PUT' ? e : null;
  }

  async create(key: string, value: string): Promise<number> {
    this.check(key, 'create');
    if (this.state.current(key)?.operation === 'PUT') throw new RevisionMismatchError(key);
    return this.state.write(key, value, 'PUT');
  }

  async update(key: string, value: string, revision: number): Promise<number> {
    this.check(key, 'update');
    if (!(revision > 0) || (this.state.current(key)?.revision ?? 0) !== revision) {
      throw new RevisionMismatchError(key);
    }
    return this.state.write(key, value, 'PUT');
  }

  async put(key: string, value: string): Promise<number> {
    this.check(key, 'put');
    return this.state.write(key, value, 'PUT');
  }

  async delete(key: string, options?: { readonly revision?: number }): Promise<void> {
    this.check(key, 'delete');
    const revision = options?.revision;
    if (revision !== undefined && (!(revision > 0) || (this.state.current(key)?.revision ?? 0) !== revision)) {
      throw new RevisionMismatchError(key);
    }
    this.state.write(key, '', 'DEL');
  }

  async keys(filter = '>'): Promise<string[]> {
    assertValidFilter(filter, 'keys');
    this.state.store.assertAvailable('keys');
    return this.state
      .snapshot(filter)
      .filter((e) => e.operation === 'PUT')
      .map((e) => e.key)
      .sort();
  }

  watch(options: KvWatchOptions): Observable<KvWatchEvent> {
    return new Observable<KvWatchEvent>((subscriber) => {
      try {
        assertValidFilter(options.key, 'watch');
      } catch (err) {
        subscriber.error(err);
        return undefined;
      }
      const w = new MemoryWatcher(this.state, options, subscriber);
      this.state.watchers.add(w);
      w.start();
      return () => w.stop();
    });
  }

  private check(key: string, operation: string): void {
    assertValidKey(key, operation);
    this.state.store.assertAvailable(operation);
  }
}

/** One watch subscription: replay, caught-up, then a queue of live entries flushed in microtasks. */
class MemoryWatcher {
  private last = 0;
  private caughtUp = false;
  private stopped = false;
  private started = false;
  private readonly queue: KvEntry[] = [];
  private flushScheduled = false;

  constructor(
    private readonly state: BucketState,
    private readonly options: KvWatchOptions,
    private readonly subscriber: Subscriber<KvWatchEvent>,
  ) {}

  start(): void {
    queueMicrotask(() => this.begin());
  }

  /** Replay (unless updatesOnly) and caught-up; deferred while the store is offline. */
  private begin(): void {
    if (this.stopped || this.started || !this.state.store.isOnline) return;
    this.started = true;
    if (this.options.updatesOnly !== true) {
      for (const e of this.state.snapshot(this.options.key)) this.emit(e);
    } else {
      this.last = this.state.revision;
    }
    if (this.stopped) return;
    this.caughtUp = true;
    this.subscriber.next({ kind: 'caught-up' });
  }

  offer(entry: KvEntry): void {
    if (this.stopped || !this.started || !this.state.store.isOnline) return;
    if (!keyMatches(this.options.key, entry.key)) return;
    this.queue.push(entry);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    while (this.queue.length > 0 && !this.stopped) {
      const e = this.queue.shift();
      if (e !== undefined) this.emit(e);
    }
  }

  /** After an outage: what changed meanwhile (last message per key), like a NATS resume. */
  resume(): void {
    if (this.stopped) return;
    if (!this.started) {
      this.begin();
      return;
    }
    for (const e of this.state.snapshot(this.options.key, this.last)) this.offer(e);
  }

  private emit(entry: KvEntry): void {
    if (this.stopped || entry.revision <= this.last) return;
    this.last = entry.revision;
    this.subscriber.next({ kind: 'entry', entry, isUpdate: this.caughtUp });
  }

  fail(err: Error): void {
    if (this.stopped) return;
    this.stop();
    this.subscriber.error(err);
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    this.state.watchers.delete(this);
  }
}
