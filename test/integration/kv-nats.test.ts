// The NATS KV adapter against a real nats-server: the shared conformance suite, then what only a
// server shows (TTL, expiry markers by server version, subscription release, restart, creation
// races, error mapping). CI runs this file on nats-server 2.15.x and 2.10.x; version-specific
// assertions are gated on the version the server reports.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { jetstreamManager, type StreamConfig } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { createNatsKvStore } from '../../src/adapters/nats-kv.js';
import type { KvBucket, KvStore } from '../../src/adapters/kv-port.js';
import { KvUnavailableError } from '../../src/errors.js';
import type { Logger } from '../../src/types.js';
import { connectTo, serverVersionAtLeast, startNats, waitFor, useSharedNats } from '../harness/index.js';
import { kvConformance, uniqueBucketName, WatchRecorder } from '../unit/kv-conformance.js';

const sharedServer = useSharedNats();

kvConformance('nats', async () => {
  const nc = await connectTo(sharedServer());
  const store = await createNatsKvStore(nc);
  return { store, [Symbol.asyncDispose]: () => nc[Symbol.asyncDispose]() };
});

/** Client-side subscription count (what the "watch cleanup" tests of nats.js assert on). */
function subscriptionCount(nc: NatsConnection): number {
  return (nc as unknown as { protocol: { subscriptions: { size(): number } } }).protocol.subscriptions.size();
}

async function streamConfig(nc: NatsConnection, bucket: string): Promise<StreamConfig> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(`KV_${bucket}`);
  return info.config;
}

function recordingLogger(lines: { level: string; msg: string | undefined }[]): Logger {
  const at =
    (level: string) =>
    (_obj: object, msg?: string): void => {
      lines.push({ level, msg });
    };
  const logger: Logger = {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}

describe('nats KV specifics', () => {
  test('kv - a key not renewed disappears after the bucket TTL', async () => {
    await using nc = await connectTo(sharedServer());
    const store = await createNatsKvStore(nc);
    const b = await store.openBucket({ name: uniqueBucketName('ttl'), ttlMs: 1_000 });
    const r = await b.put('hb.w1', '1');
    await b.put('hb.w2', '1');
    await b.update('hb.w1', '2', r);
    await waitFor(async () => (await b.get('hb.w2')) === null, { timeoutMs: 4_000, what: 'hb.w2 to expire' });
    await waitFor(async () => (await b.keys('hb.*')).length === 0, { timeoutMs: 4_000, what: 'all keys to expire' });
    await b.create('hb.w2', 'again');
  });

  test('kv - expiry markers follow the server version (PURGE expired: true on >= 2.11)', async () => {
    await using nc = await connectTo(sharedServer());
    const store = await createNatsKvStore(nc);
    const version = sharedServer().version;
    const hasMarkers = serverVersionAtLeast(version, '2.11');
    assert.equal(store.features.expiryMarkers, hasMarkers);
    const name = uniqueBucketName('exp');
    const ttlMs = 1_000;
    const b = await store.openBucket({ name, ttlMs, expiryMarkers: true });
    assert.equal(b.expiryObservable, hasMarkers);
    const cfg = await streamConfig(nc, name);
    assert.equal(cfg.allow_msg_ttl === true, hasMarkers, 'allow_msg_ttl on the server');

    using w = new WatchRecorder(b, { key: 'hb.*' });
    await w.caughtUp();
    const putAt = Date.now();
    await b.put('hb.w1', '1');
    await w.until('the put', (r) => r.changes.length === 1);
    if (hasMarkers) {
      await w.until('the expiry PURGE', (r) => r.changes.length === 2, ttlMs + 1_000 - (Date.now() - putAt));
      const e = w.events.at(-1);
      assert.ok(e?.kind === 'entry');
      assert.equal(e.entry.key, 'hb.w1');
      assert.equal(e.entry.operation, 'PURGE');
      assert.equal(e.entry.expired, true);
      assert.equal(e.isUpdate, true);
      // the marker is a tombstone: absent for get and keys (kv.keys() of the client lists it), create works
      assert.equal(await b.get('hb.w1'), null);
      assert.deepEqual(await b.keys(), []);
      await b.create('hb.w1', 'back');
      await w.until('the re-created key', (r) => r.changes.length === 3);
    } else {
      await waitFor(async () => (await b.get('hb.w1')) === null, { timeoutMs: ttlMs + 3_000, what: 'hb.w1 to expire' });
      await b.put('barrier', '1');
      using witness = new WatchRecorder(b, { key: 'barrier' });
      await witness.until('the barrier', (r) => r.changes.length === 1);
      assert.deepEqual(w.changes, ['hb.w1=1@PUT'], '2.10 writes no marker, the watch sees nothing');
    }
  });

  test('kv - a client delete or purge is never reported as expired', async () => {
    await using nc = await connectTo(sharedServer());
    const store = await createNatsKvStore(nc);
    const b = await store.openBucket({ name: uniqueBucketName(), ttlMs: 60_000, expiryMarkers: true });
    using w = new WatchRecorder(b, { key: '>' });
    await w.caughtUp();
    await b.put('k', '1');
    // wait before overwriting: with history 1 a watch may skip a revision overwritten before delivery
    await w.until('the put', (r) => r.changes.length === 1);
    await b.delete('k');
    await w.until('the delete', (r) => r.changes.length === 2);
    for (const e of w.events) if (e.kind === 'entry') assert.equal(e.entry.expired, false);
  });

  test('kv - unsubscribing a watch releases its subscription at once, without further messages', async () => {
    await using nc = await connectTo(sharedServer());
    const store = await createNatsKvStore(nc);
    const b = await store.openBucket({ name: uniqueBucketName('subs'), ttlMs: 0 });
    await b.put('k', '1'); // the request inbox subscription exists from here on
    const baseline = subscriptionCount(nc);
    const w = new WatchRecorder(b, { key: '>' });
    await w.caughtUp();
    assert.equal(subscriptionCount(nc), baseline + 1);
    w.unsubscribe();
    // no put after this point: the release must not wait for traffic
    await waitFor(() => subscriptionCount(nc) === baseline, {
      timeoutMs: 500,
      intervalMs: 5,
      what: 'the watch subscription to be released',
    });

    // a watch unsubscribed before its consumer exists must not subscribe when creation completes
    const early = b.watch({ key: '>' }).subscribe();
    early.unsubscribe();
    const barrier = new WatchRecorder(b, { key: '>' }); // created after: its answers come later
    await barrier.caughtUp();
    barrier.unsubscribe();
    await waitFor(() => subscriptionCount(nc) === baseline, {
      timeoutMs: 500,
      intervalMs: 5,
      what: 'all watch subscriptions to be released',
    });
  });

  test('kv - a watch keeps delivering after a server restart, without duplicates', async () => {
    await using server = await startNats();
    await using nc = await connectTo(server);
    const store = await createNatsKvStore(nc, { requestTimeoutMs: 1_000 });
    const b = await store.openBucket({ name: uniqueBucketName('restart'), ttlMs: 0 });
    await b.put('k', 'before');
    using w = new WatchRecorder(b, { key: '>' });
    using live = new WatchRecorder(b, { key: '>', updatesOnly: true });
    await w.caughtUp();
    await live.caughtUp();
    await server.restart();
    // a write sent while JetStream recovers may time out (and may or may not land): retry it
    let attempt = 0;
    await waitFor(() => b.put('k', `after-${++attempt}`), { timeoutMs: 20_000, what: 'a put after restart' });
    await w.until('a value written after the restart', (r) => r.changes.some((c) => c.startsWith('k=after')), 20_000);
    await b.put('k', 'final');
    await w.until('the final value', (r) => r.changes.at(-1) === 'k=final@PUT', 20_000);
    const revisions = w.events.flatMap((e) => (e.kind === 'entry' ? [e.entry.revision] : []));
    assert.equal(new Set(revisions).size, revisions.length, `no revision twice: ${revisions.join(',')}`);
    assert.deepEqual(revisions, [...revisions].sort((x, y) => x - y));
    assert.equal(w.caughtUpCount, 1);
    assert.equal(w.error, undefined);
    await live.until('the final value (updatesOnly)', (r) => r.changes.at(-1) === 'k=final@PUT');
    assert.ok(!live.changes.includes('k=before@PUT'));
    const liveRevisions = live.events.flatMap((e) => (e.kind === 'entry' ? [e.entry.revision] : []));
    assert.equal(new Set(liveRevisions).size, liveRevisions.length);
    assert.equal(live.caughtUpCount, 1);
  });

  test('kv - a watch subscribed while the server is down retries with backoff and starts once it is back', async () => {
    await using server = await startNats();
    await using nc = await connectTo(server);
    const logs: { level: string; msg: string | undefined }[] = [];
    const store = await createNatsKvStore(nc, { logger: recordingLogger(logs), requestTimeoutMs: 500 });
    const b = await store.openBucket({ name: uniqueBucketName('down'), ttlMs: 0 });
    await b.put('k', '1');
    await server.stop();
    using w = new WatchRecorder(b, { key: '>' });
    await waitFor(() => logs.some((l) => l.level === 'warn' && l.msg === 'kv watch failed, resubscribing'), {
      timeoutMs: 5_000,
      what: 'a failed watch attempt to be logged',
    });
    await server.restart();
    await w.until('the replay once the server is back', (r) => r.caughtUpCount === 1, 20_000);
    assert.deepEqual(w.changes, ['k=1@PUT']);
    await waitFor(() => b.put('k', '2'), { timeoutMs: 10_000, what: 'a put after restart' });
    await w.until('the live change', (r) => r.changes.at(-1) === 'k=2@PUT', 10_000);
    assert.equal(w.caughtUpCount, 1);
  });

  test('kv - concurrent opens from two connections all succeed on one bucket', async () => {
    await using nc1 = await connectTo(sharedServer());
    await using nc2 = await connectTo(sharedServer());
    const stores = [await createNatsKvStore(nc1), await createNatsKvStore(nc2)];
    for (const differentTtls of [false, true]) {
      const name = uniqueBucketName('race');
      const opens: Promise<KvBucket>[] = [];
      for (let i = 0; i < 10; i++) {
        const store = stores[i % 2] as KvStore;
        opens.push(store.openBucket({ name, ttlMs: differentTtls ? 10_000 + i * 1_000 : 10_000 }));
      }
      const buckets = await Promise.all(opens);
      await (buckets[0] as KvBucket).put('k', 'from-1');
      for (const b of buckets) assert.equal((await b.get('k'))?.value, 'from-1');
      const jsm = await jetstreamManager(nc1);
      const names: string[] = [];
      for await (const n of jsm.streams.names(`$KV.${name}.>`)) names.push(n);
      assert.deepEqual(names, [`KV_${name}`]);
    }
  });

  test('kv - openBucket binds to an existing bucket with another config and keeps it', async () => {
    await using nc = await connectTo(sharedServer());
    const store = await createNatsKvStore(nc);
    const name = uniqueBucketName('bind');
    await store.openBucket({ name, ttlMs: 0 });
    const b = await store.openBucket({ name, ttlMs: 5_000, replicas: 1, expiryMarkers: true });
    assert.equal(b.expiryObservable, false);
    const cfg = await streamConfig(nc, name);
    assert.equal(cfg.max_age, 0);
    assert.equal(cfg.max_msgs_per_subject, 1);
    assert.equal(cfg.storage, 'file');
  });

  test('kv - errors map: a closed connection gives KvUnavailableError', async () => {
    const nc = await connectTo(sharedServer());
    const store = await createNatsKvStore(nc);
    const b = await store.openBucket({ name: uniqueBucketName(), ttlMs: 0 });
    await nc.close();
    await assert.rejects(b.get('k'), (err: unknown) => err instanceof KvUnavailableError && err.retriable);
    await assert.rejects(store.openBucket({ name: uniqueBucketName(), ttlMs: 0 }), KvUnavailableError);
    await assert.rejects(createNatsKvStore(nc), KvUnavailableError);
    let completed = false;
    store.status$.subscribe({ complete: () => (completed = true) });
    assert.equal(completed, true, 'status$ completes at once on a closed connection');
  });

  test('kv - status$ reports disconnect and reconnect around a restart, then close', async () => {
    await using server = await startNats();
    const nc = await connectTo(server);
    const store = await createNatsKvStore(nc);
    const seen: string[] = [];
    let completed = false;
    const sub = store.status$.subscribe({ next: (s) => seen.push(s.type), complete: () => (completed = true) });
    await server.restart();
    await waitFor(() => seen.includes('reconnect'), { timeoutMs: 10_000, what: 'a reconnect status' });
    assert.ok(seen.indexOf('disconnect') < seen.indexOf('reconnect'), seen.join(','));
    await nc.close();
    await waitFor(() => completed, { timeoutMs: 2_000, what: 'status$ to complete' });
    assert.equal(seen.at(-1), 'close');
    sub.unsubscribe();
  });
});
