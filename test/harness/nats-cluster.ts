// A JetStream cluster of nats-server processes on loopback for tests: each node has its own
// config file (server_name, cluster name, routes to every other node), store and client port;
// ready once every running node agrees on a JetStream meta leader.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { httpGetJson, makeTempDir, removeTempDir, startNats, type NatsServer } from './nats-server.js';
import { waitFor } from './wait.js';

export interface StartNatsClusterOptions {
  /** Number of nodes (default 3). */
  size?: number;
  /** Version line or exact version, as for `startNats`. */
  version?: string;
}

export interface NatsCluster extends AsyncDisposable {
  readonly servers: NatsServer[];
  /** Client URLs of all nodes (stable: a restarted node keeps its port). */
  readonly urls: string[];
  /** Server names, `servers[i]` is `names[i]` (what JetStream reports as leader/peer names). */
  readonly names: string[];
  stopNode(i: number): Promise<void>;
  killNode(i: number): Promise<void>;
  /** Waits until the running nodes agree on a JetStream meta leader; returns its name. */
  waitForMetaLeader(timeoutMs?: number): Promise<string>;
}

const READY_TIMEOUT_MS = 30_000;

interface Jsz {
  meta_cluster?: { leader?: string; cluster_size?: number; replicas?: { name: string; current?: boolean; offline?: boolean }[] };
}

/** Ports the OS says are free now (held together so that they differ, then released). */
async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = createServer();
      servers.push(s);
      await new Promise<void>((res, rej) => {
        s.once('error', rej);
        s.listen(0, '127.0.0.1', () => res());
      });
    }
    return servers.map((s) => {
      const addr = s.address();
      if (addr === null || typeof addr === 'string') throw new Error('freePorts: no TCP address');
      return addr.port;
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((res) => s.close(() => res()))));
  }
}

class Cluster implements NatsCluster {
  readonly servers: NatsServer[];
  readonly names: string[];
  readonly #tempRoot: string;
  #disposing: Promise<void> | undefined;

  constructor(servers: NatsServer[], names: string[], tempRoot: string) {
    this.servers = servers;
    this.names = names;
    this.#tempRoot = tempRoot;
  }

  get urls(): string[] {
    return this.servers.map((s) => s.url);
  }

  #node(i: number): NatsServer {
    const s = this.servers[i];
    if (!s) throw new RangeError(`cluster has no node ${i} (size ${this.servers.length})`);
    return s;
  }

  stopNode(i: number): Promise<void> {
    return this.#node(i).stop();
  }

  killNode(i: number): Promise<void> {
    return this.#node(i).kill();
  }

  async waitForMetaLeader(timeoutMs = READY_TIMEOUT_MS): Promise<string> {
    return waitFor(
      async () => {
        const views = await Promise.all(
          this.servers.map(async (s) => {
            try {
              return await httpGetJson<Jsz>(`${s.monitorUrl}/jsz`, 1_000);
            } catch {
              return undefined; // stopped or paused node
            }
          }),
        );
        const up = views.flatMap((v, i) => (v ? [{ name: this.names[i] ?? '', meta: v.meta_cluster }] : []));
        const leaders = [...new Set(up.map((v) => v.meta?.leader ?? ''))];
        const sizes = up.map((v) => v.meta?.cluster_size ?? 0);
        const leader = leaders[0];
        const leaderView = up.find((v) => v.name === leader)?.meta;
        // The leader must see every other answering node as a current follower.
        const lagging = up.filter(
          (v) => v.name !== leader && !leaderView?.replicas?.some((r) => r.name === v.name && r.current),
        );
        if (!leader || leaders.length !== 1 || !leaderView || lagging.length || sizes.some((n) => n !== this.servers.length)) {
          throw new Error(
            `${up.length} node(s) answering, leaders seen ${JSON.stringify(leaders)}, cluster sizes ` +
              `${JSON.stringify(sizes)}, not current: ${JSON.stringify(lagging.map((v) => v.name))}`,
          );
        }
        return leader;
      },
      { timeoutMs, intervalMs: 100, what: 'a JetStream meta leader agreed by all running nodes' },
    );
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.#disposing ??= (async () => {
      try {
        const results = await Promise.allSettled(this.servers.map((s) => s[Symbol.asyncDispose]()));
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      } finally {
        await removeTempDir(this.#tempRoot);
      }
    })();
    return this.#disposing;
  }
}

/**
 * Starts `size` (default 3) clustered JetStream nodes on loopback and waits for a meta leader.
 * Use as `await using cluster = await startNatsCluster()`.
 */
export async function startNatsCluster(opts: StartNatsClusterOptions = {}): Promise<NatsCluster> {
  const size = opts.size ?? 3;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`cluster size must be an integer >= 1, got ${size}`);
  const tempRoot = await makeTempDir('parti-nats-cluster-');
  const id = randomBytes(3).toString('hex');
  const clusterName = `parti-${id}`;
  const names = Array.from({ length: size }, (_, i) => `n${i}-${id}`);
  const routePorts = await freePorts(size);
  const started: NatsServer[] = [];
  try {
    const configs = await Promise.all(
      names.map(async (name, i) => {
        const routes = routePorts.filter((_, j) => j !== i).map((p) => `    "nats-route://127.0.0.1:${p}"`);
        const conf = [
          `server_name: "${name}"`,
          'cluster {',
          `  name: "${clusterName}"`,
          `  listen: "127.0.0.1:${routePorts[i]}"`,
          '  routes: [',
          ...routes,
          '  ]',
          '}',
          '',
        ].join('\n');
        const file = join(tempRoot, `${name}.conf`);
        await writeFile(file, conf);
        return file;
      }),
    );
    const results = await Promise.allSettled(
      configs.map((file, i) => startNats({ version: opts.version, serverName: names[i], args: ['-c', file] })),
    );
    for (const r of results) if (r.status === 'fulfilled') started.push(r.value);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const cluster = new Cluster(started, names, tempRoot);
    try {
      await cluster.waitForMetaLeader();
    } catch (err) {
      await cluster[Symbol.asyncDispose]();
      throw err;
    }
    return cluster;
  } catch (err) {
    await Promise.allSettled(started.map((s) => s[Symbol.asyncDispose]()));
    await removeTempDir(tempRoot);
    throw err;
  }
}
