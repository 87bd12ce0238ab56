import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  connectTo,
  httpGetJson,
  Latch,
  once,
  serverVersionAtLeast,
  startNats,
  startNatsCluster,
  startTcpProxy,
  waitFor,
} from './index.js';
const bucketName = (): string => `harness_${randomBytes(4).toString('hex')}`;

function assertGone(pid: number): void {
  assert.ok(pid > 0, 'a pid was recorded');
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `process ${pid} still exists`);
}

/** Records the connection's status events (type names) until it closes. */
function recordStatus(nc: NatsConnection): string[] {
  const seen: string[] = [];
  void (async () => {
    for await (const s of nc.status()) seen.push(s.type);
  })();
  return seen;
}

void describe('harness', () => {
  void it('harness - version comparison', () => {
    assert.equal(serverVersionAtLeast('2.10.27', '2.10'), true);
    assert.equal(serverVersionAtLeast('v2.15.1', '2.11.0'), true);
    assert.equal(serverVersionAtLeast('2.10.27-1+b2', '2.11'), false);
    assert.equal(serverVersionAtLeast('2.9.10', '2.10.0'), false);
  });

  void it('harness - waitFor names what it waited for and what it saw last', async () => {
    let n = 0;
    assert.equal(await waitFor(() => (++n >= 3 ? n : 0), { timeoutMs: 1_000, intervalMs: 1, what: 'three probes' }), 3);
    await assert.rejects(
      waitFor(() => false, { timeoutMs: 60, intervalMs: 10, what: 'the impossible' }),
      /waiting for the impossible .*last value: false/,
    );
    await assert.rejects(
      waitFor(() => Promise.reject(new Error('boom')), { timeoutMs: 60, intervalMs: 10, what: 'a failing probe' }),
      /a failing probe .*last error: Error: boom/,
    );
    const latch = new Latch(2);
    latch.countDown();
    await assert.rejects(latch.wait(20), /1 count\(s\) left/);
    latch.countDown();
    await latch.wait(20);
    const ee = new EventEmitter();
    queueMicrotask(() => ee.emit('error', new Error('bad')));
    await assert.rejects(once(ee, 'ready', 1_000), /bad/);
  });

  void it('harness - a server starts on a free port and accepts a connection', { timeout: 20_000 }, async () => {
    let pid: number;
    {
      await using server = await startNats();
      pid = server.pid;
      assert.match(server.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
      assert.ok(serverVersionAtLeast(server.version, '2.10'), `version ${server.version}`);
      await using nc = await connectTo(server);
      await nc.flush();
      assert.equal(nc.info?.version, server.version);
      await nc[Symbol.asyncDispose]();
      await nc[Symbol.asyncDispose](); // idempotent
    }
    assertGone(pid);
  });

  void it('harness - restart keeps the port and the store (a KV value survives)', { timeout: 30_000 }, async () => {
    const pids: number[] = [];
    {
      await using server = await startNats();
      await using nc = await connectTo(server);
      const seen = recordStatus(nc);
      const bucket = bucketName();
      const kv = await new Kvm(nc).create(bucket);
      await kv.put('k', 'v1');
      const port = server.port;
      pids.push(server.pid);

      await server.restart();
      pids.push(server.pid);
      assert.equal(server.port, port);
      assert.notEqual(server.pid, pids[0]);
      assertGone(pids[0] ?? 0);

      // The old connection reconnects to the same port and reads the value from the same store.
      // (Wait for the reconnect first: a JetStream request sent while disconnected is not
      // answered and only fails at its timeout, 5 s by default.)
      await waitFor(() => seen.includes('reconnect'), { timeoutMs: 10_000, what: 'the client to reconnect' });
      const entry = await waitFor(() => kv.get('k'), { timeoutMs: 10_000, what: 'the KV value after restart' });
      assert.equal(entry.string(), 'v1');
      await using nc2 = await connectTo(server.url);
      const again = await (await new Kvm(nc2).open(bucket)).get('k');
      assert.equal(again?.string(), 'v1');
    }
    for (const pid of pids) assertGone(pid);
  });

  void it('harness - pause stops answering, resume answers again, dispose ends a paused server', { timeout: 20_000 }, async () => {
    let pid: number;
    {
      await using server = await startNats({ jetstream: false });
      pid = server.pid;
      server.pause();
      await assert.rejects(httpGetJson(`${server.monitorUrl}/healthz`, 300), /no answer within 300 ms/);
      server.resume();
      await waitFor(() => httpGetJson(`${server.monitorUrl}/healthz`, 300), { timeoutMs: 5_000, what: 'healthz after resume' });
      server.pause(); // dispose must still end it
    }
    assertGone(pid);
  });

  void it('harness - kill ends the process and restart brings the server back', { timeout: 20_000 }, async () => {
    const pids: number[] = [];
    {
      await using server = await startNats();
      pids.push(server.pid);
      await server.kill();
      assertGone(server.pid);
      await server.restart();
      pids.push(server.pid);
      await using nc = await connectTo(server);
      await nc.flush();
    }
    for (const pid of pids) assertGone(pid);
  });

  void it('harness - a connection left open is closed when its server is disposed', { timeout: 20_000 }, async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const server = await startNats({ jetstream: false });
      const leaked = await connectTo(server);
      await server[Symbol.asyncDispose]();
      assertGone(server.pid);
      assert.equal(leaked.isClosed(), true, 'a connection reconnecting forever would keep the test process alive');
      await waitFor(() => warnings.some((w) => (w as Error & { code?: string }).code === 'PARTI_HARNESS_LEAKED_CONNECTION'), {
        timeoutMs: 1_000,
        what: 'the leaked-connection warning',
      });
    } finally {
      process.off('warning', onWarning);
    }
  });

  void it('harness - a 3-node cluster keeps an R3 KV bucket writable after a node is killed', { timeout: 40_000 }, async () => {
    let pids: number[];
    {
      await using cluster = await startNatsCluster();
      pids = cluster.servers.map((s) => s.pid);
      assert.equal(cluster.servers.length, 3);
      await using nc = await connectTo({ urls: cluster.urls });
      const kvm = new Kvm(jetstream(nc, { timeout: 2_000 }));
      const kv = await kvm.create(bucketName(), { replicas: 3 });
      await kv.put('k', 'before');
      const status = await kv.status();
      assert.equal(status.replicas, 3);

      // Kill the stream leader: the bucket needs a new leader before it takes writes again.
      const leader = status.streamInfo.cluster?.leader;
      const victim = cluster.names.findIndex((n) => n === leader);
      assert.ok(victim >= 0, `stream leader ${leader} is one of ${cluster.names.join(', ')}`);
      await cluster.killNode(victim);
      assertGone(pids[victim] ?? 0);

      const rev = await waitFor(() => kv.put('k', 'after'), { timeoutMs: 25_000, intervalMs: 200, what: 'a KV write with one node killed' });
      assert.ok(rev > 1);
      assert.equal((await kv.get('k'))?.string(), 'after');
    }
    for (const pid of pids) assertGone(pid);
  });

  void it('harness - the TCP proxy cuts and restores a connection', { timeout: 20_000 }, async () => {
    let pid: number;
    {
      await using server = await startNats({ jetstream: false });
      pid = server.pid;
      await using proxy = await startTcpProxy({ port: server.port });
      // Only the proxy's address: the client must not learn the server's own from INFO.
      await using nc = await connectTo(proxy, { ignoreClusterUpdates: true, reconnectTimeWait: 100 });
      const seen = recordStatus(nc);
      await nc.flush();
      assert.equal(proxy.connections, 1);

      proxy.cut();
      await waitFor(() => seen.includes('disconnect'), { timeoutMs: 5_000, what: 'a disconnect event' });
      // Refused while cut: the client keeps trying without getting through.
      await waitFor(() => seen.filter((t) => t === 'reconnecting').length >= 2, { timeoutMs: 5_000, what: 'reconnect attempts' });
      assert.ok(!seen.includes('reconnect'), `no reconnect while cut: ${seen.join(',')}`);

      proxy.restore();
      await waitFor(() => seen.includes('reconnect'), { timeoutMs: 5_000, what: 'a reconnect event' });
      await nc.flush();
      assert.equal(proxy.connections, 1);
    }
    assertGone(pid);
  });
});
