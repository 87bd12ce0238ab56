// Helpers for the assignment and hook integration tests: a group of in-process Managers on one
// nats-server (one connection each, fresh buckets per group), and convergence checks over what
// the managers report (every partition exactly once, one version, everybody Stable).
import { randomBytes } from 'node:crypto';
import { timingPresets, type PartiConfigInput } from '../../../src/config.js';
import { createManager, type Manager } from '../../../src/manager.js';
import type { StaticSource } from '../../../src/sources/static.js';
import { partitionId, type Hooks, type Partition } from '../../../src/types.js';
import { connectTo, waitFor, type NatsServer, type TestConnection } from '../../harness/index.js';

type BucketNames = NonNullable<PartiConfigInput['buckets']>;

/** Four bucket names that no other test uses (a random suffix per call). */
export function freshBuckets(label = 't'): Required<Pick<BucketNames, 'stableId' | 'election' | 'heartbeat' | 'assignment'>> {
  const s = `${label}-${randomBytes(5).toString('hex')}`;
  return {
    stableId: `sid-${s}`,
    election: `elc-${s}`,
    heartbeat: `hb-${s}`,
    assignment: `asg-${s}`,
  };
}

/** `n` partitions `p-0` … `p-<n-1>`, weight 100. */
export function makePartitions(n: number): Partition[] {
  return Array.from({ length: n }, (_, i) => ({ keys: [`p-${i}`], weight: 100 }));
}

export interface TestWorker {
  /** Creation order in the group (0-based): the index its `hooks` factory was called with. */
  readonly index: number;
  readonly manager: Manager;
  readonly nc: TestConnection;
  /** Stops the manager, then closes its connection. Idempotent. */
  stop(): Promise<void>;
}

export interface WorkerGroupOptions {
  /** Partition source shared by every worker of the group (the leader's is the one that counts). */
  readonly source: StaticSource;
  /** Extra config on top of the test timing preset and the group's buckets. */
  readonly config?: PartiConfigInput;
  /** Hooks for the i-th worker created by the group (0-based, in creation order). */
  readonly hooks?: (index: number) => Hooks;
  readonly bucketLabel?: string;
}

/**
 * In-process workers sharing fresh buckets on one server. `await using` stops every worker that
 * is still running and closes every connection, whatever the test did before.
 */
export class WorkerGroup implements AsyncDisposable {
  readonly buckets: ReturnType<typeof freshBuckets>;
  readonly config: PartiConfigInput;
  /** Workers started and not stopped through the group, in start order. */
  readonly live: TestWorker[] = [];
  readonly #all: TestWorker[] = [];
  readonly #server: NatsServer;
  readonly #options: WorkerGroupOptions;
  #created = 0;

  constructor(server: NatsServer, options: WorkerGroupOptions) {
    this.#server = server;
    this.#options = options;
    this.buckets = freshBuckets(options.bucketLabel);
    this.config = {
      ...timingPresets.test,
      // A start must never hang a test: bounded well under the test deadlines.
      startTimeout: 30_000,
      ...options.config,
      buckets: { ...this.buckets, ...options.config?.buckets },
    };
  }

  get managers(): Manager[] {
    return this.live.map((w) => w.manager);
  }

  /** Creates a worker (connected, not started). */
  async create(): Promise<TestWorker> {
    const index = this.#created++;
    const nc = await connectTo(this.#server);
    let manager: Manager;
    try {
      manager = createManager({
        connection: nc,
        source: this.#options.source,
        config: this.config,
        ...(this.#options.hooks ? { hooks: this.#options.hooks(index) } : {}),
      });
    } catch (err) {
      await nc[Symbol.asyncDispose]();
      throw err;
    }
    let stopping: Promise<void> | undefined;
    const worker: TestWorker = {
      index,
      manager,
      nc,
      stop: () =>
        (stopping ??= (async () => {
          const i = this.live.indexOf(worker);
          if (i >= 0) this.live.splice(i, 1);
          try {
            await manager.stop();
          } finally {
            await nc[Symbol.asyncDispose]();
          }
        })()),
    };
    this.#all.push(worker);
    this.live.push(worker);
    return worker;
  }

  /** Creates and starts `n` workers at once; resolves when every start() resolved. */
  async start(n: number): Promise<TestWorker[]> {
    const workers = await Promise.all(Array.from({ length: n }, () => this.create()));
    await Promise.all(workers.map((w) => w.manager.start()));
    return workers;
  }

  /** The live worker whose ID is `workerId`. */
  byId(workerId: string): TestWorker {
    const w = this.live.find((x) => x.manager.workerId === workerId);
    if (!w) throw new Error(`no live worker ${workerId} (live: ${this.live.map((x) => x.manager.workerId).join(', ')})`);
    return w;
  }

  /** The one live leader (throws when there is none or more than one). */
  leader(): TestWorker {
    const leaders = this.live.filter((w) => w.manager.isLeader);
    if (leaders.length !== 1) throw new Error(`expected one leader, found ${leaders.length}`);
    return leaders[0]!;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const results = await Promise.allSettled(this.#all.map((w) => w.stop()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/** Worker ID → sorted partition ids, from what each manager currently holds. */
export function holdings(managers: readonly Manager[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of managers) {
    out.set(m.workerId ?? '(no id)', (m.assignment?.partitions ?? []).map(partitionId).sort());
  }
  return out;
}

/** Partition id → worker ID, from what each manager holds (the last holder wins on duplicates). */
export function ownerOf(managers: readonly Manager[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const [w, ids] of holdings(managers)) for (const id of ids) out.set(id, w);
  return out;
}

/**
 * Problems with the group's current view, or an empty list when converged: every manager Stable
 * with an ID and the same assignment version, and every expected partition held exactly once by
 * the live managers (nothing else held).
 */
export function convergenceProblems(managers: readonly Manager[], expected: readonly Partition[]): string[] {
  const problems: string[] = [];
  const versions = new Set<number | undefined>();
  for (const m of managers) {
    if (m.state !== 'Stable') problems.push(`${m.workerId ?? '?'} is ${m.state}`);
    if (m.workerId === undefined) problems.push('a worker has no ID');
    versions.add(m.assignment?.version);
  }
  if (versions.size !== 1 || versions.has(undefined)) problems.push(`versions ${[...versions].join(',')}`);
  const count = new Map<string, number>();
  for (const m of managers) {
    for (const p of m.assignment?.partitions ?? []) count.set(partitionId(p), (count.get(partitionId(p)) ?? 0) + 1);
  }
  const want = new Set(expected.map(partitionId));
  const missing = [...want].filter((id) => !count.has(id));
  const twice = [...count].filter(([, n]) => n > 1).map(([id]) => id);
  const unknown = [...count.keys()].filter((id) => !want.has(id));
  if (missing.length) problems.push(`${missing.length} unassigned (${missing.slice(0, 5).join(',')}…)`);
  if (twice.length) problems.push(`${twice.length} held twice (${twice.slice(0, 5).join(',')}…)`);
  if (unknown.length) problems.push(`${unknown.length} unknown held (${unknown.slice(0, 5).join(',')}…)`);
  const leaders = managers.filter((m) => m.isLeader).length;
  if (leaders !== 1) problems.push(`${leaders} leaders`);
  return problems;
}

export interface Converged {
  readonly version: number;
  /** Partition id → worker ID. */
  readonly owner: Map<string, string>;
}

/** Polls until `convergenceProblems` is empty; the timeout error lists what was still wrong. */
export async function waitConverged(
  managers: () => readonly Manager[],
  expected: readonly Partition[],
  opts: { timeoutMs: number; what: string },
): Promise<Converged> {
  let last: string[] = [];
  try {
    await waitFor(
      () => {
        last = convergenceProblems(managers(), expected);
        return last.length === 0;
      },
      { ...opts, what: `convergence: ${opts.what}` },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; still wrong: ${last.join('; ')}`, { cause: err });
  }
  const ms = managers();
  return { version: ms[0]!.assignment!.version, owner: ownerOf(ms) };
}
