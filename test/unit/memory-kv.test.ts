// The in-memory KV store: the shared conformance suite plus what only it offers (an injected
// clock for TTL and expiry markers, a simulated outage, timers cleared on close).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createMemoryKvStore, type MemoryKvClock } from '../../src/adapters/memory-kv.js';
import type { ConnectionStatus } from '../../src/adapters/kv-port.js';
import { KvUnavailableError } from '../../src/errors.js';
import { kvConformance, uniqueBucketName, WatchRecorder } from './kv-conformance.js';

kvConformance('memory', async () => {
  const store = createMemoryKvStore();
  return { store, [Symbol.asyncDispose]: () => store.close() };
});

/** A hand-driven clock that counts its pending timers. */
class ManualClock implements MemoryKvClock {
  private t = 1_700_000_000_000;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): number {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(id: unknown): void {
    this.timers.delete(id as number);
  }
  get pending(): number {
    return this.timers.size;
  }
  /** Moves time forward, firing due timers in order (including ones they schedule). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (next === undefined || e[1].at < next[1].at)) next = e;
      if (next === undefined) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}

describe('memory KV specifics', () => {
  test('kv - a key not renewed disappears after the bucket TTL; renewing keeps it', async () => {
    const clock = new ManualClock();
    await using store = createMemoryKvStore({ clock });
    const b = await store.openBucket({ name: uniqueBucketName(), ttlMs: 1_000 });
    const r1 = await b.put('hb.w1', '1');
    await b.put('hb.w2', '1');
    clock.advance(800);
    await b.update('hb.w1', '2', r1);
    clock.advance(300);
    assert.equal(await b.get('hb.w2'), null);
    assert.equal((await b.get('hb.w1'))?.value, '2');
    assert.deepEqual(await b.keys(), ['hb.w1']);
    clock.advance(1_000);
    assert.deepEqual(await b.keys(), []);
    // an expired key is absent: create succeeds
    await b.create('hb.w1', '3');
  });

  test('kv - with expiry markers an expired key arrives on a watch as PURGE with expired: true', async () => {
    const clock = new ManualClock();
    await using store = createMemoryKvStore({ clock });
    const b = await store.openBucket({ name: uniqueBucketName(), ttlMs: 1_000, expiryMarkers: true });
    assert.equal(b.expiryObservable, true);
    using w = new WatchRecorder(b, { key: 'hb.*' });
    await w.caughtUp();
    await b.put('hb.w1', '1');
    await b.put('hb.w2', '1');
    await b.delete('hb.w2');
    await w.until('three changes', (r) => r.changes.length === 3);
    clock.advance(1_000);
    await w.until('two expiry markers', (r) => r.changes.length === 5);
    const markers = w.events.slice(-2);
    for (const e of markers) {
      assert.ok(e.kind === 'entry');
      assert.equal(e.entry.operation, 'PURGE');
      assert.equal(e.entry.expired, true);
      assert.equal(e.isUpdate, true);
    }
    assert.deepEqual(await b.keys(), []);
    assert.equal(await b.get('hb.w1'), null);
    // the markers themselves age out without a further event
    clock.advance(1_000);
    assert.equal(clock.pending, 0);
    await b.create('hb.w1', 'back');
    await w.until('the re-created key', (r) => r.changes.length === 6);
  });

  test('kv - without server markers (2.10) expiry is silent and expiryObservable is false', async () => {
    const clock = new ManualClock();
    await using store = createMemoryKvStore({ clock, features: { version: '2.10.27', expiryMarkers: false } });
    assert.equal(store.features.expiryMarkers, false);
    const b = await store.openBucket({ name: uniqueBucketName(), ttlMs: 1_000, expiryMarkers: true });
    assert.equal(b.expiryObservable, false);
    using w = new WatchRecorder(b, { key: '>' });
    using witness = new WatchRecorder(b, { key: '>' });
    await w.caughtUp();
    await b.put('k', '1');
    clock.advance(1_500);
    assert.equal(await b.get('k'), null);
    await b.put('barrier', '1');
    await witness.until('the barrier', (r) => r.changes.includes('barrier=1@PUT'));
    assert.deepEqual(w.changes, ['k=1@PUT', 'barrier=1@PUT']);
  });

  test('kv - an outage fails calls with KvUnavailableError and watches resume with what changed', async () => {
    const clock = new ManualClock();
    await using store = createMemoryKvStore({ clock });
    const statuses: ConnectionStatus['type'][] = [];
    const sub = store.status$.subscribe((s) => statuses.push(s.type));
    const b = await store.openBucket({ name: uniqueBucketName(), ttlMs: 1_000, expiryMarkers: true });
    using w = new WatchRecorder(b, { key: '>' });
    await w.caughtUp();
    await b.put('k', '1');
    await w.until('the put', (r) => r.changes.length === 1);
    store.setOnline(false);
    await assert.rejects(b.get('k'), KvUnavailableError);
    await assert.rejects(b.put('k', '2'), KvUnavailableError);
    clock.advance(1_000); // expires during the outage
    store.setOnline(true);
    await w.until('the expiry marker after reconnect', (r) => r.changes.length === 2);
    assert.deepEqual(w.changes, ['k=1@PUT', 'k=@PURGE']);
    assert.equal(w.caughtUpCount, 1);
    assert.deepEqual(statuses, ['disconnect', 'reconnecting', 'reconnect']);
    sub.unsubscribe();
  });

  test('kv - a watch subscribed during an outage starts when the store is back', async () => {
    await using store = createMemoryKvStore();
    const b = await store.openBucket({ name: uniqueBucketName(), ttlMs: 0 });
    await b.put('k', '1');
    store.setOnline(false);
    using w = new WatchRecorder(b, { key: '>' });
    store.setOnline(true);
    await w.caughtUp();
    assert.deepEqual(w.shape, ['entry:k', 'caught-up']);
  });

  test('kv - close clears every timer, completes status$ after close, and is idempotent', async () => {
    const clock = new ManualClock();
    const store = createMemoryKvStore({ clock });
    const statuses: ConnectionStatus['type'][] = [];
    let completed = false;
    store.status$.subscribe({ next: (s) => statuses.push(s.type), complete: () => (completed = true) });
    const b = await store.openBucket({ name: uniqueBucketName(), ttlMs: 5_000, expiryMarkers: true });
    await b.put('a', '1');
    await b.put('b', '1');
    assert.equal(clock.pending, 2);
    await store.close();
    await store.close();
    assert.equal(clock.pending, 0);
    assert.deepEqual(statuses, ['close']);
    assert.equal(completed, true);
    await assert.rejects(store.openBucket({ name: 'x', ttlMs: 0 }), KvUnavailableError);
  });

  test('kv - delivery is asynchronous: nothing is emitted inside subscribe or a write', async () => {
    await using store = createMemoryKvStore();
    const b = await store.openBucket({ name: uniqueBucketName(), ttlMs: 0 });
    await b.put('k', '1');
    using w = new WatchRecorder(b, { key: '>' });
    assert.equal(w.events.length, 0);
    await w.caughtUp();
    const p = b.put('k', '2');
    assert.equal(w.changes.length, 1);
    await p;
    await w.until('the second put', (r) => r.changes.length === 2);
  });

  test('kv - a watch unsubscribed from inside its own callback receives nothing more', async () => {
    await using store = createMemoryKvStore();
    const b = await store.openBucket({ name: uniqueBucketName(), ttlMs: 0 });
    await b.put('a', '1');
    await b.put('b', '1');
    const seen: string[] = [];
    const sub = b.watch({ key: '>' }).subscribe((e) => {
      seen.push(e.kind === 'entry' ? e.entry.key : e.kind);
      sub.unsubscribe();
    });
    using witness = new WatchRecorder(b, { key: '>' });
    await witness.caughtUp();
    assert.deepEqual(seen, ['a']);
  });
});
