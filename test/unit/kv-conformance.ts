// The KV port's conformance suite: one set of behaviours that every KvStore implementation
// (memory-kv for unit tests, nats-kv on a real server) must show identically. Run it with
// `kvConformance(name, makeStore)`; each test gets a fresh store from `makeStore` and a fresh
// bucket name, and disposes the store at the end (`await using`), even when an assertion fails.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { Subscription } from 'rxjs';
import type { KvBucket, KvStore, KvWatchEvent, KvWatchOptions } from '../../src/adapters/kv-port.js';
import { KvUnavailableError, PartiError, RevisionMismatchError } from '../../src/errors.js';
import { waitFor } from '../harness/index.js';

export type KvStoreHandle = { readonly store: KvStore } & AsyncDisposable;

/** Generous for a real server on a loaded CI machine; a memory store answers in microtasks. */
const WAIT_MS = 5_000;

export function uniqueBucketName(prefix = 'conf'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Records what a watch emits, and lets a test wait for conditions on it. */
export class WatchRecorder implements Disposable {
  readonly events: KvWatchEvent[] = [];
  error: unknown;
  completed = false;
  private readonly sub: Subscription;

  constructor(bucket: KvBucket, options: KvWatchOptions) {
    this.sub = bucket.watch(options).subscribe({
      next: (e) => this.events.push(e),
      error: (err: unknown) => (this.error = err),
      complete: () => (this.completed = true),
    });
  }

  /** Entries only, as compact `KEY=value@OP` strings (revision left out). */
  get changes(): string[] {
    return this.events.flatMap((e) =>
      e.kind === 'entry' ? [`${e.entry.key}=${e.entry.value}@${e.entry.operation}`] : [],
    );
  }

  get caughtUpCount(): number {
    return this.events.filter((e) => e.kind === 'caught-up').length;
  }

  /** The sequence of kinds with entries abbreviated: ['entry:a', 'caught-up', ...]. */
  get shape(): string[] {
    return this.events.map((e) => (e.kind === 'entry' ? `entry:${e.entry.key}` : e.kind));
  }

  async until(what: string, pred: (r: WatchRecorder) => boolean, timeoutMs = WAIT_MS): Promise<void> {
    try {
      await waitFor(
        () => {
          if (this.error !== undefined) {
            throw this.error instanceof Error ? this.error : new Error("watch failed", { cause: this.error });
          }
          return pred(this);
        },
        { timeoutMs, what, intervalMs: 10 },
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; watch events: ${JSON.stringify(this.shape)}`, { cause: err });
    }
  }

  async caughtUp(): Promise<void> {
    await this.until('caught-up', (r) => r.caughtUpCount > 0);
  }

  unsubscribe(): void {
    this.sub.unsubscribe();
  }

  [Symbol.dispose](): void {
    this.unsubscribe();
  }
}

async function rejectsWith<E extends PartiError>(
  p: Promise<unknown>,
  cls: new (...args: never[]) => E,
  code: string,
): Promise<E> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    assert.equal(err.code, code);
    return err;
  }
  assert.fail(`expected a rejection with ${cls.name}`);
}

export function kvConformance(name: string, makeStore: () => Promise<KvStoreHandle>): void {
  describe(`${name} - KV port conformance`, () => {
    async function open(h: KvStoreHandle, ttlMs = 0): Promise<KvBucket> {
      return h.store.openBucket({ name: uniqueBucketName(), ttlMs });
    }

    test('kv - get returns null for a missing key', async () => {
      await using h = await makeStore();
      const b = await open(h);
      assert.equal(await b.get('nothing.here'), null);
    });

    test('kv - put then get returns the value, its revision and PUT', async () => {
      await using h = await makeStore();
      const b = await open(h);
      const r1 = await b.put('a', 'one');
      const r2 = await b.put('a', 'two');
      assert.ok(r2 > r1, 'revisions increase');
      const e = await b.get('a');
      assert.ok(e);
      assert.equal(e.key, 'a');
      assert.equal(e.value, 'two');
      assert.equal(e.revision, r2);
      assert.equal(e.operation, 'PUT');
      assert.equal(e.expired, false);
      assert.ok(e.created instanceof Date);
    });

    test('kv - create of an existing key fails with RevisionMismatchError', async () => {
      await using h = await makeStore();
      const b = await open(h);
      const rev = await b.create('lease.1', 'w1');
      assert.ok(rev > 0);
      const err = await rejectsWith(b.create('lease.1', 'w2'), RevisionMismatchError, 'REVISION_MISMATCH');
      assert.equal(err.key, 'lease.1');
      assert.equal((await b.get('lease.1'))?.value, 'w1');
    });

    test('kv - update at the current revision succeeds, a stale revision fails', async () => {
      await using h = await makeStore();
      const b = await open(h);
      const r1 = await b.create('k', 'v1');
      const r2 = await b.update('k', 'v2', r1);
      assert.ok(r2 > r1);
      await rejectsWith(b.update('k', 'v3', r1), RevisionMismatchError, 'REVISION_MISMATCH');
      await rejectsWith(b.update('k', 'v3', 0), RevisionMismatchError, 'REVISION_MISMATCH');
      await rejectsWith(b.update('absent', 'v', 1), RevisionMismatchError, 'REVISION_MISMATCH');
      assert.equal((await b.get('k'))?.value, 'v2');
    });

    test('kv - delete hides the key and create over the deleted key succeeds', async () => {
      await using h = await makeStore();
      const b = await open(h);
      await b.create('k', 'v1');
      await b.delete('k');
      assert.equal(await b.get('k'), null);
      const r = await b.create('k', 'v2');
      const e = await b.get('k');
      assert.equal(e?.value, 'v2');
      assert.equal(e?.revision, r);
      // deleting a key that never existed is not an error
      await b.delete('never');
      assert.equal(await b.get('never'), null);
    });

    test('kv - delete with a revision deletes only at that revision', async () => {
      await using h = await makeStore();
      const b = await open(h);
      const r1 = await b.put('k', 'v1');
      const r2 = await b.put('k', 'v2');
      await rejectsWith(b.delete('k', { revision: r1 }), RevisionMismatchError, 'REVISION_MISMATCH');
      assert.equal((await b.get('k'))?.value, 'v2');
      await b.delete('k', { revision: r2 });
      assert.equal(await b.get('k'), null);
    });

    test('kv - keys lists live keys, filters with wildcards, and is empty when none match', async () => {
      await using h = await makeStore();
      const b = await open(h);
      assert.deepEqual(await b.keys(), []);
      await b.put('heartbeat.w1', '1');
      await b.put('heartbeat.w2', '1');
      await b.put('heartbeat.w3', '1');
      await b.put('assignment.w1', '{}');
      await b.put('assignment.x.y', '{}');
      await b.delete('heartbeat.w3');
      assert.deepEqual(await b.keys(), ['assignment.w1', 'assignment.x.y', 'heartbeat.w1', 'heartbeat.w2']);
      assert.deepEqual(await b.keys('heartbeat.*'), ['heartbeat.w1', 'heartbeat.w2']);
      assert.deepEqual(await b.keys('assignment.*'), ['assignment.w1']);
      assert.deepEqual(await b.keys('assignment.>'), ['assignment.w1', 'assignment.x.y']);
      assert.deepEqual(await b.keys('nothing.>'), []);
      assert.deepEqual(await b.keys('heartbeat.w3'), []);
    });

    test('kv - watch delivers current values, then caught-up, then updates; a delete arrives as DEL', async () => {
      await using h = await makeStore();
      const b = await open(h);
      await b.put('hb.a', 'a1');
      await b.put('hb.b', 'b1');
      await b.put('hb.a', 'a2');
      await b.put('other', 'x');
      using w = new WatchRecorder(b, { key: 'hb.*' });
      await w.caughtUp();
      assert.deepEqual(w.shape, ['entry:hb.b', 'entry:hb.a', 'caught-up']);
      assert.deepEqual(w.changes, ['hb.b=b1@PUT', 'hb.a=a2@PUT']);
      for (const e of w.events) if (e.kind === 'entry') assert.equal(e.isUpdate, false);
      await b.put('hb.c', 'c1');
      await b.delete('hb.a');
      await w.until('the put and the delete', (r) => r.changes.length === 4);
      assert.deepEqual(w.changes.slice(2), ['hb.c=c1@PUT', 'hb.a=@DEL']);
      const live = w.events.slice(3);
      for (const e of live) {
        assert.equal(e.kind, 'entry');
        if (e.kind === 'entry') {
          assert.equal(e.isUpdate, true);
          assert.equal(e.entry.expired, false);
        }
      }
      assert.equal(w.caughtUpCount, 1);
      const revisions = w.events.flatMap((e) => (e.kind === 'entry' ? [e.entry.revision] : []));
      assert.deepEqual(revisions, [...revisions].sort((x, y) => x - y), 'revisions ascend');
    });

    test('kv - watch with no initial values emits caught-up and then changes', async () => {
      await using h = await makeStore();
      const b = await open(h);
      await b.put('unrelated', 'x');
      using w = new WatchRecorder(b, { key: 'hb.>' });
      await w.caughtUp();
      assert.deepEqual(w.shape, ['caught-up']);
      await b.put('hb.a.b', '1');
      await w.until('the first change', (r) => r.changes.length === 1);
      assert.deepEqual(w.changes, ['hb.a.b=1@PUT']);
      const last = w.events.at(-1);
      assert.ok(last?.kind === 'entry' && last.isUpdate);
    });

    test('kv - watch replays a tombstone as DEL', async () => {
      await using h = await makeStore();
      const b = await open(h);
      await b.put('k', 'v');
      await b.delete('k');
      using w = new WatchRecorder(b, { key: 'k' });
      await w.caughtUp();
      assert.deepEqual(w.changes, ['k=@DEL']);
    });

    test('kv - watch with updatesOnly emits caught-up first and then only changes', async () => {
      await using h = await makeStore();
      const b = await open(h);
      await b.put('k.1', 'old');
      using w = new WatchRecorder(b, { key: 'k.>', updatesOnly: true });
      await w.caughtUp();
      assert.deepEqual(w.shape, ['caught-up']);
      await b.put('k.1', 'new');
      await w.until('the update', (r) => r.changes.length === 1);
      assert.deepEqual(w.changes, ['k.1=new@PUT']);
    });

    test('kv - unsubscribing a watch stops delivery', async () => {
      await using h = await makeStore();
      const b = await open(h);
      const w = new WatchRecorder(b, { key: '>' });
      using witness = new WatchRecorder(b, { key: '>' });
      await w.caughtUp();
      await witness.caughtUp();
      await b.put('a', '1');
      await w.until('the first put', (r) => r.changes.length === 1);
      w.unsubscribe();
      await b.put('a', '2');
      await b.put('b', '1');
      // the witness, subscribed all along, proves both writes were delivered to watchers
      await witness.until('both later puts', (r) => r.changes.length === 3);
      assert.deepEqual(w.changes, ['a=1@PUT']);
      assert.equal(w.error, undefined);
    });

    test('kv - openBucket binds to an existing bucket whatever the spec', async () => {
      await using h = await makeStore();
      const name = uniqueBucketName();
      const first = await h.store.openBucket({ name, ttlMs: 0 });
      await first.put('k', 'v');
      const second = await h.store.openBucket({ name, ttlMs: 60_000, expiryMarkers: true });
      assert.equal(second.name, name);
      assert.equal((await second.get('k'))?.value, 'v');
      assert.equal(second.expiryObservable, false, 'markers cannot appear on a bucket created without them');
    });

    test('kv - invalid keys, filters and bucket names are rejected with a PartiError', async () => {
      await using h = await makeStore();
      const b = await open(h);
      for (const bad of ['', 'a..b', '.a', 'a.', 'a b', 'a.*', 'a.>']) {
        await assert.rejects(b.put(bad, 'v'), (err: unknown) => err instanceof PartiError && err.code === 'KV_ERROR');
      }
      await assert.rejects(b.keys('a.>.b'), (err: unknown) => err instanceof PartiError && err.code === 'KV_ERROR');
      await assert.rejects(
        h.store.openBucket({ name: 'bad.name', ttlMs: 0 }),
        (err: unknown) => err instanceof PartiError && err.code === 'KV_ERROR',
      );
    });

    test('kv - calls after the store is closed fail with KvUnavailableError and watches error', async () => {
      const h = await makeStore();
      const b = await open(h);
      await b.put('k', 'v');
      const w = new WatchRecorder(b, { key: '>' });
      await w.caughtUp();
      await h[Symbol.asyncDispose]();
      await rejectsWith(b.get('k'), KvUnavailableError, 'KV_UNAVAILABLE');
      await rejectsWith(b.put('k', 'v2'), KvUnavailableError, 'KV_UNAVAILABLE');
      await waitFor(() => w.error !== undefined, { timeoutMs: WAIT_MS, what: 'the watch to error' });
      assert.ok(w.error instanceof KvUnavailableError);
      assert.equal(w.error.retriable, true);
    });
  });
}
