// Integration-test support for groups of workers on a real nats-server: in-process managers (each
// with its own NATS connection) and `parti-ts worker --json` processes (SIGKILL = crash), the
// ownership map partition → worker IDs, the exactly-once check, post-hoc leadership timelines,
// KV inspection, and a cleanup that stops every manager, connection and process and deletes the
// group's buckets even when a test fails: `await using group = await Group.create({...})`.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { pino } from 'pino';
import { timingPresets, type PartiConfigInput } from '../../../src/config.js';
import { createManager, type Manager } from '../../../src/manager.js';
import type { ErrorLine, WorkerLine } from '../../../src/cli/worker-command.js';
import { staticSource, type StaticSource } from '../../../src/sources/static.js';
import {
  partitionId,
  type AssignmentStrategy,
  type Hooks,
  type Logger,
  type Partition,
  type PartitionSource,
  type WorkerState,
} from '../../../src/types.js';
import { connectTo, startNats, waitFor, type NatsServer, type TestConnection } from '../../harness/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The fast timing profile every test uses (parti Go TestConfig). */
export const FAST = timingPresets.test;

/** The same profile as `parti-ts worker` flags. */
export const FAST_FLAGS: readonly string[] = [
  '--heartbeat-interval', `${FAST.heartbeatInterval}ms`,
  '--heartbeat-ttl', `${FAST.heartbeatTtl}ms`,
  '--worker-id-ttl', `${FAST.workerIdTtl}ms`,
  '--election-timeout', `${FAST.electionTimeout}ms`,
  '--cold-start-window', `${FAST.coldStartWindow}ms`,
  '--planned-scale-window', `${FAST.plannedScaleWindow}ms`,
  '--min-rebalance-interval', `${FAST.minRebalanceInterval}ms`,
  '--emergency-grace', `${FAST.emergencyGracePeriod}ms`,
];

export interface BucketNames {
  readonly stableId: string;
  readonly election: string;
  readonly heartbeat: string;
  readonly assignment: string;
}

/** The library's default bucket names: the only ones a `parti-ts worker` process can use. */
export const DEFAULT_BUCKETS: BucketNames = {
  stableId: 'parti-stableid',
  election: 'parti-election',
  heartbeat: 'parti-heartbeat',
  assignment: 'parti-assignment',
};

/** Bucket names with a random suffix, so that tests could share a server. */
export function freshBuckets(): BucketNames {
  const s = randomBytes(4).toString('hex');
  return { stableId: `sid-${s}`, election: `elect-${s}`, heartbeat: `hb-${s}`, assignment: `asg-${s}` };
}

/** `partition-0` … `partition-<n-1>`, weight 100: the partitions `parti-ts worker --partitions n` serves. */
export function makePartitions(n: number): Partition[] {
  return Array.from({ length: n }, (_, i) => ({ keys: [`partition-${i}`], weight: 100 }));
}

/** Partition id → IDs of the workers that hold it (a correct group has exactly one per id). */
export type Ownership = Map<string, string[]>;

/**
 * Every id of `expected` is owned by exactly one worker, and nothing else is owned. Throws an
 * AssertionError listing the duplicates, the orphans and the unknown ids.
 */
export function assertExactlyOnce(ownership: Ownership, expected: readonly string[]): void {
  const want = new Set(expected);
  const duplicated = [...ownership].filter(([, owners]) => owners.length > 1).map(([id, owners]) => `${id}: ${owners.join(',')}`);
  const orphans = expected.filter((id) => (ownership.get(id)?.length ?? 0) === 0);
  const unknown = [...ownership.keys()].filter((id) => !want.has(id));
  assert.ok(
    duplicated.length === 0 && orphans.length === 0 && unknown.length === 0,
    `ownership not exactly once: duplicated [${duplicated.join('; ')}], unassigned [${orphans.join(', ')}], unknown [${unknown.join(', ')}]`,
  );
}

// ---------------------------------------------------------------------------------------------
// Workers

/** One change of a worker's public view (state, leadership or version), with its wall-clock time. */
export interface TimelineEntry {
  readonly t: number;
  readonly state: string;
  readonly leader: boolean;
  readonly version: number | undefined;
}

/** An assignment a worker received. `epoch` is unknown for process workers (not in the JSON lines). */
export interface SeenAssignment {
  readonly t: number;
  readonly version: number;
  readonly epoch: number | undefined;
  readonly partitions: readonly string[];
}

/** What tests read from any worker, in-process or not. */
export interface GroupWorker {
  readonly kind: 'manager' | 'process';
  readonly label: string;
  readonly workerId: string | undefined;
  readonly isLeader: boolean;
  readonly state: string | undefined;
  /** Not stopped, not killed, not exited: counts for ownership and leadership. */
  readonly alive: boolean;
  /** Partition ids of the current assignment (undefined before the first one). */
  readonly partitionIds: readonly string[] | undefined;
  readonly version: number | undefined;
  readonly timeline: readonly TimelineEntry[];
  readonly seen: readonly SeenAssignment[];
  /** When this worker stopped counting (kill sent, stop called, exit seen). */
  readonly goneAt: number | undefined;
}

const collator = new Intl.Collator('en', { numeric: true });
const sortIds = (ids: Iterable<string>): string[] => [...ids].sort(collator.compare);

export class ManagedWorker implements GroupWorker {
  readonly kind = 'manager' as const;
  readonly timeline: TimelineEntry[] = [];
  readonly seen: SeenAssignment[] = [];
  #startPromise: Promise<void> | undefined;
  #stopPromise: Promise<void> | undefined;
  #goneAt: number | undefined;

  constructor(
    readonly label: string,
    readonly manager: Manager,
    readonly nc: TestConnection,
  ) {
    const record = (): void => {
      const entry = { t: Date.now(), state: manager.state, leader: manager.isLeader, version: manager.assignment?.version };
      const last = this.timeline.at(-1);
      if (last && last.state === entry.state && last.leader === entry.leader && last.version === entry.version) return;
      this.timeline.push(entry);
      if (entry.state === 'Shutdown') this.#goneAt ??= entry.t;
    };
    // Subscribed after the Manager's own subscription (its constructor), so its getters are current.
    manager.actor.subscribe({ next: record, error: record, complete: record });
    manager.assignment$.subscribe((a) => {
      if (a) this.seen.push({ t: Date.now(), version: a.version, epoch: a.epoch, partitions: sortIds(a.partitions.map(partitionId)) });
    });
  }

  get workerId(): string | undefined {
    return this.manager.workerId;
  }
  get isLeader(): boolean {
    return this.alive && this.manager.isLeader;
  }
  get state(): WorkerState {
    return this.manager.state;
  }
  get alive(): boolean {
    return this.#startPromise !== undefined && this.#goneAt === undefined && this.manager.state !== 'Shutdown';
  }
  get partitionIds(): readonly string[] | undefined {
    const a = this.manager.assignment;
    return a && sortIds(a.partitions.map(partitionId));
  }
  get version(): number | undefined {
    return this.manager.assignment?.version;
  }
  get goneAt(): number | undefined {
    return this.#goneAt;
  }
  /** The pending or settled start(); never an unhandled rejection (the caller's copy may still reject). */
  get started(): Promise<void> | undefined {
    return this.#startPromise;
  }

  /** Calls manager.start() once and returns its promise (rejections are also kept from going unhandled). */
  start(signal?: AbortSignal): Promise<void> {
    if (this.#startPromise) return this.#startPromise;
    const p = this.manager.start(signal ? { signal } : {});
    p.catch(() => {});
    this.#startPromise = p;
    return p;
  }

  /** Graceful stop; from this call on the worker no longer counts as an owner or leader. */
  stop(): Promise<void> {
    this.#goneAt ??= Date.now();
    return (this.#stopPromise ??= this.manager.stop());
  }
}

/** One stdout line of `parti-ts worker --json` (DESIGN.md §6): the command's own contract type. */
export type { WorkerLine };

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const spawned = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Last resort: a test process that exits never leaves a worker process behind. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of spawned) {
      if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });
}

export class ProcessWorker implements GroupWorker {
  readonly kind = 'process' as const;
  readonly lines: WorkerLine[] = [];
  /** stdout lines that are not one JSON object (the contract says there are none). */
  readonly badLines: string[] = [];
  readonly stderr: string[] = [];
  readonly timeline: TimelineEntry[] = [];
  readonly seen: SeenAssignment[] = [];
  readonly exit: Promise<ProcessExit>;
  readonly pid: number;
  readonly spawnedAt = Date.now();
  #signalledAt: number | undefined;
  #killedAt: number | undefined;
  #exitedAt: number | undefined;

  constructor(
    readonly label: string,
    readonly child: ChildProcess,
  ) {
    assert.ok(child.pid !== undefined, `${label}: spawn failed`);
    this.pid = child.pid;
    const out = createInterface({ input: child.stdout! });
    out.on('line', (l) => this.#onLine(l));
    createInterface({ input: child.stderr! }).on('line', (l) => {
      this.stderr.push(l);
      if (this.stderr.length > 200) this.stderr.shift();
    });
    const outClosed = new Promise<void>((res) => out.once('close', res));
    this.exit = new Promise<ProcessExit>((res) => {
      child.once('exit', (code, signal) => {
        this.#exitedAt = Date.now();
        spawned.delete(child);
        // Every stdout line is delivered before anyone looks at the exit.
        void outClosed.then(() => res({ code, signal }));
      });
    });
  }

  #onLine(raw: string): void {
    let line: WorkerLine;
    try {
      const v = JSON.parse(raw) as unknown;
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
      line = v as WorkerLine;
    } catch {
      this.badLines.push(raw);
      return;
    }
    this.lines.push(line);
    if (line.event === 'state' || line.event === 'assignment') {
      const entry = { t: line.t, state: line.state ?? '', leader: line.leader === true, version: line.version ?? undefined };
      const last = this.timeline.at(-1);
      if (!last || last.state !== entry.state || last.leader !== entry.leader || last.version !== entry.version) this.timeline.push(entry);
    }
    if (line.event === 'assignment' && typeof line.version === 'number') {
      this.seen.push({ t: line.t, version: line.version, epoch: undefined, partitions: line.partitions ?? [] });
    }
  }

  #last<L extends WorkerLine>(pred: (l: WorkerLine) => l is L): L | undefined {
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const l = this.lines[i]!;
      if (pred(l)) return l;
    }
    return undefined;
  }

  get workerId(): string | undefined {
    return this.#last((l): l is Exclude<WorkerLine, ErrorLine> => 'workerId' in l && typeof l.workerId === 'string')?.workerId ?? undefined;
  }
  get isLeader(): boolean {
    return this.alive && this.#last((l) => l.event === 'state' || l.event === 'assignment')?.leader === true;
  }
  get state(): string | undefined {
    return this.#last((l) => l.event === 'state')?.state;
  }
  get alive(): boolean {
    return this.#signalledAt === undefined && this.#exitedAt === undefined;
  }
  get partitionIds(): readonly string[] | undefined {
    return this.#last((l) => l.event === 'assignment')?.partitions;
  }
  get version(): number | undefined {
    return this.#last((l) => l.event === 'assignment')?.version ?? undefined;
  }
  get goneAt(): number | undefined {
    return this.#signalledAt ?? this.#exitedAt;
  }
  get exited(): boolean {
    return this.#exitedAt !== undefined;
  }
  /** When it stopped leading for sure: SIGKILL sent, or the exit seen. */
  get deadAt(): number | undefined {
    return this.#killedAt ?? this.#exitedAt;
  }

  #signal(sig: NodeJS.Signals): void {
    if (this.#exitedAt !== undefined) return;
    this.#signalledAt ??= Date.now();
    try {
      process.kill(this.pid, sig);
    } catch {
      // already gone
    }
  }

  /** SIGKILL (a crash). Resolves with the exit, or rejects after `timeoutMs`. */
  async kill(timeoutMs = 5_000): Promise<ProcessExit> {
    if (this.#exitedAt === undefined) this.#killedAt ??= Date.now();
    this.#signal('SIGKILL');
    return this.waitExit(timeoutMs);
  }

  /** SIGTERM (graceful stop). Resolves with the exit, or rejects after `timeoutMs`. */
  async terminate(timeoutMs = 20_000): Promise<ProcessExit> {
    this.#signal('SIGTERM');
    return this.waitExit(timeoutMs);
  }

  async waitExit(timeoutMs: number): Promise<ProcessExit> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, rej) => {
      timer = setTimeout(
        () => rej(new Error(`${this.label} (pid ${this.pid}) still running after ${timeoutMs} ms; stderr:\n${this.stderr.slice(-20).join('\n')}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exit, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The group

export interface GroupOptions {
  /** Number of partitions (`partition-<i>`, weight 100); `setPartitions` changes it for the managers. */
  readonly partitions: number;
  /** A server shared by the file; default: the group starts its own and stops it at dispose. */
  readonly server?: NatsServer;
  /**
   * 'fresh' (default): random bucket names. 'default': the library's names, required for
   * `parti-ts worker` processes (the command has no bucket flags), so use a server of its own.
   */
  readonly buckets?: 'fresh' | 'default';
  /** Extra config for every in-process manager (over FAST and the bucket names). */
  readonly config?: PartiConfigInput;
  /** Hooks of each in-process manager, made from its label (`AddManagerOptions.hooks` wins). */
  readonly hooks?: (label: string) => Hooks;
}

export interface AddManagerOptions {
  readonly config?: PartiConfigInput;
  readonly source?: PartitionSource;
  readonly strategy?: AssignmentStrategy;
  readonly hooks?: Hooks;
  /** Connect to this URL instead of the group's server (e.g. a TCP proxy in front of it). */
  readonly url?: string;
  readonly label?: string;
}

export interface StartManagersOptions extends AddManagerOptions {
  /** Connect all, then start all at once (default: one after another). */
  readonly concurrently?: boolean;
}

export interface ConvergeOptions {
  /** The number of live workers. */
  readonly expectWorkers?: number;
  /** Also: every live worker Stable, and exactly one of them leads. */
  readonly stable?: boolean;
}

/** Library logs on stderr when PARTI_TEST_LOG is a pino level (debugging aid; silent otherwise). */
function testLogger(label: string): Logger | undefined {
  const level = process.env.PARTI_TEST_LOG;
  if (!level) return undefined;
  return pino({ level, base: { w: label } }, pino.destination({ dest: 2, sync: true }));
}

/** How long dispose waits for each graceful stop or process exit. */
const DISPOSE_STOP_MS = 10_000;

export class Group implements AsyncDisposable {
  readonly managers: ManagedWorker[] = [];
  readonly processes: ProcessWorker[] = [];
  /** The partition source every in-process manager shares unless given its own. */
  readonly source: StaticSource;
  #partitions: readonly Partition[];
  #created = 0;
  #disposing: Promise<void> | undefined;

  private constructor(
    readonly server: NatsServer,
    readonly ownsServer: boolean,
    /** A connection of the test's own, for KV inspection. */
    readonly admin: TestConnection,
    readonly buckets: BucketNames,
    readonly options: GroupOptions,
  ) {
    this.#partitions = makePartitions(options.partitions);
    this.source = staticSource(this.#partitions);
  }

  /** The partitions the managers' shared source serves now (and that checkConverged expects). */
  get partitionList(): readonly Partition[] {
    return this.#partitions;
  }
  get partitionIdList(): readonly string[] {
    return this.#partitions.map(partitionId);
  }

  /**
   * From now on the shared source serves `n` partitions (managers see them at their leader's next
   * listPartitions, e.g. refreshPartitions) and checkConverged expects them. Processes keep
   * serving the `--partitions` they were spawned with.
   */
  setPartitions(n: number): void {
    this.#partitions = makePartitions(n);
    this.source.update(this.#partitions);
  }

  static async create(options: GroupOptions): Promise<Group> {
    const own = options.server === undefined;
    const server = options.server ?? (await startNats());
    let admin: TestConnection;
    try {
      admin = await connectTo(server);
    } catch (err) {
      if (own) await server[Symbol.asyncDispose]();
      throw err;
    }
    const buckets = options.buckets === 'default' ? DEFAULT_BUCKETS : freshBuckets();
    return new Group(server, own, admin, buckets, options);
  }

  /**
   * Config of an in-process manager: FAST and a start bounded well under the test deadlines, the
   * group's buckets and config, then `extra`.
   */
  configFor(extra: PartiConfigInput = {}): PartiConfigInput {
    const base = this.options.config ?? {};
    return {
      ...FAST,
      startTimeout: 30_000,
      ...base,
      ...extra,
      buckets: { ...this.buckets, ...base.buckets, ...extra.buckets },
    };
  }

  /** A connected, not started manager (its own connection); default label `m<creation index>`. */
  async addManager(opts: AddManagerOptions = {}): Promise<ManagedWorker> {
    const label = opts.label ?? `m${this.#created++}`;
    const nc = await connectTo(opts.url ?? this.server.url, { name: label });
    try {
      const logger = testLogger(label);
      const hooks = opts.hooks ?? this.options.hooks?.(label);
      const manager = createManager({
        connection: nc,
        source: opts.source ?? this.source,
        config: this.configFor(opts.config),
        ...(opts.strategy ? { strategy: opts.strategy } : {}),
        ...(hooks ? { hooks } : {}),
        ...(logger ? { logger } : {}),
      });
      const w = new ManagedWorker(label, manager, nc);
      this.managers.push(w);
      return w;
    } catch (err) {
      await nc[Symbol.asyncDispose]();
      throw err;
    }
  }

  /** Adds a manager and awaits its start() (Stable or another serving state). */
  async startManager(opts: AddManagerOptions = {}): Promise<ManagedWorker> {
    const w = await this.addManager(opts);
    await w.start();
    return w;
  }

  /**
   * Starts `n` managers one after another (each start() resolved before the next), like parti Go's
   * StartWorkers; `concurrently`: all connected, then all started at once.
   */
  async startManagers(n: number, opts: StartManagersOptions = {}): Promise<ManagedWorker[]> {
    if (opts.concurrently) {
      const added = await Promise.all(Array.from({ length: n }, () => this.addManager(opts)));
      await Promise.all(added.map((w) => w.start()));
      return added;
    }
    const out: ManagedWorker[] = [];
    for (let i = 0; i < n; i++) out.push(await this.startManager(opts));
    return out;
  }

  /** Spawns `parti-ts worker --json` with the FAST flags on the group's server (default buckets only). */
  spawnWorker(extraArgs: readonly string[] = [], label = `p${this.processes.length}`): ProcessWorker {
    assert.equal(this.buckets, DEFAULT_BUCKETS, 'parti-ts worker processes need a group with buckets: "default"');
    const args = ['--import', 'tsx', 'src/cli/main.ts', 'worker', '--nats', this.server.url, '--partitions', String(this.options.partitions), '--json', ...FAST_FLAGS, ...extraArgs];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    spawned.add(child);
    installExitHook();
    const w = new ProcessWorker(label, child);
    this.processes.push(w);
    return w;
  }

  /** Every worker ever added or spawned. */
  all(): GroupWorker[] {
    return [...this.managers, ...this.processes];
  }

  /** Workers that count now (started, not stopped, killed or exited). */
  live(): GroupWorker[] {
    return this.all().filter((w) => w.alive);
  }

  /** In-process managers that count now. */
  liveManagers(): ManagedWorker[] {
    return this.managers.filter((w) => w.alive);
  }

  /** Live workers that believe they lead. */
  leaders(): GroupWorker[] {
    return this.live().filter((w) => w.isLeader);
  }

  /** The one live leader, an in-process manager (throws unless exactly one live worker leads). */
  leaderManager(): ManagedWorker {
    const leaders = this.leaders();
    const [leader] = leaders;
    assert.equal(leaders.length, 1, `expected one leader, found [${leaders.map((w) => w.label).join(', ')}]`);
    assert.ok(leader instanceof ManagedWorker, `the leader ${leader?.label ?? '?'} is not an in-process manager`);
    return leader;
  }

  /** Partition id → worker IDs, over the live workers' current assignments. */
  ownership(workers: readonly GroupWorker[] = this.live()): Ownership {
    const map: Ownership = new Map();
    for (const w of workers) {
      for (const id of w.partitionIds ?? []) {
        const owners = map.get(id) ?? [];
        owners.push(w.workerId ?? w.label);
        map.set(id, owners);
      }
    }
    return map;
  }

  /**
   * Throws unless the group has converged: `expectWorkers` live workers (if given), each with a
   * worker ID and an assignment of the same version, together holding every partition of
   * `partitionList` exactly once; with `stable`, also each Stable and exactly one leading.
   * Returns worker ID → partition ids. A number is short for `{ expectWorkers }`.
   */
  checkConverged(options: ConvergeOptions | number = {}): Map<string, readonly string[]> {
    const opts: ConvergeOptions = typeof options === 'number' ? { expectWorkers: options } : options;
    const live = this.live();
    if (opts.expectWorkers !== undefined) assert.equal(live.length, opts.expectWorkers, 'live workers');
    const versions = new Set(live.map((w) => w.version));
    const view = live.map((w) => `${w.workerId ?? w.label}@v${w.version ?? '-'}:${w.partitionIds?.length ?? '-'}:${w.state ?? '-'}${w.isLeader ? '*' : ''}`).join(' ');
    assert.ok(live.every((w) => w.workerId !== undefined && w.partitionIds !== undefined), `a live worker without an assignment (${view})`);
    assert.equal(versions.size, 1, `live workers hold different versions (${view})`);
    if (opts.stable) {
      assert.ok(live.every((w) => w.state === 'Stable'), `a live worker not Stable (${view})`);
      assert.equal(live.filter((w) => w.isLeader).length, 1, `not exactly one leader (${view})`);
    }
    assertExactlyOnce(this.ownership(live), this.partitionIdList);
    return new Map(live.map((w) => [w.workerId!, w.partitionIds!]));
  }

  /** Waits until `checkConverged(opts)` holds. */
  waitConverged(opts: ConvergeOptions & { timeoutMs: number; what: string }): Promise<Map<string, readonly string[]>> {
    return waitFor(() => this.checkConverged(opts), { timeoutMs: opts.timeoutMs, what: opts.what, intervalMs: 50 });
  }

  /** Keys of a bucket whose last entry is a PUT (none when the bucket does not exist). */
  async liveKeys(bucket: string): Promise<string[]> {
    const jsm = await jetstreamManager(this.admin);
    try {
      await jsm.streams.info(`KV_${bucket}`);
    } catch {
      return [];
    }
    const kv = await new Kvm(this.admin).open(bucket);
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    const live: string[] = [];
    for (const k of keys) {
      const e = await kv.get(k);
      if (e !== null && e.operation === 'PUT') live.push(k);
    }
    return live.sort();
  }

  /** Live keys of all four buckets, as `<bucket role>/<key>`. */
  async allLiveKeys(): Promise<string[]> {
    const out: string[] = [];
    for (const [role, name] of Object.entries(this.buckets) as [keyof BucketNames, string][]) {
      for (const k of await this.liveKeys(name)) out.push(`${role}/${k}`);
    }
    return out;
  }

  /** What `workerId` still holds in KV: its stable ID, its heartbeat, the leader key. */
  async keysOf(workerId: string): Promise<string[]> {
    const held: string[] = [];
    if ((await this.liveKeys(this.buckets.stableId)).includes(workerId)) held.push(`stableId/${workerId}`);
    if ((await this.liveKeys(this.buckets.heartbeat)).includes(`heartbeat.${workerId}`)) held.push(`heartbeat/heartbeat.${workerId}`);
    const kv = await new Kvm(this.admin).open(this.buckets.election);
    if ((await this.liveKeys(this.buckets.election)).includes('leader')) {
      const e = await kv.get('leader');
      if (e?.string().startsWith(`${workerId}:`)) held.push('election/leader');
    }
    return held;
  }

  /**
   * Asserts that `probe` returns an empty list now and at every sample for `forMs` (shorter than
   * any TTL, so an expiry cannot hide a key that was left behind or written late).
   */
  async assertStaysEmpty(probe: () => Promise<string[]>, what: string, forMs = 600): Promise<void> {
    const until = Date.now() + forMs;
    for (;;) {
      const found = await probe();
      assert.deepEqual(found, [], `${what}: found ${found.join(', ')}`);
      if (Date.now() >= until) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * The leaders at wall-clock time `t`, from every worker's recorded timeline (post hoc, so a
   * process's pipe latency does not matter). A worker stops counting when it was killed or
   * stopped (goneAt) or when its timeline says it no longer leads.
   */
  leadersAt(t: number): string[] {
    const out: string[] = [];
    for (const w of this.all()) {
      const deadAt = w instanceof ProcessWorker ? w.deadAt : undefined;
      if (deadAt !== undefined && deadAt <= t) continue;
      let leader = false;
      for (const e of w.timeline) {
        if (e.t > t) break;
        leader = e.leader && e.state !== 'Shutdown';
      }
      if (leader) out.push(w.workerId ?? w.label);
    }
    return out;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#disposing ??= this.#dispose();
    return this.#disposing;
  }

  async #dispose(): Promise<void> {
    const problems: string[] = [];
    const bounded = async (what: string, p: Promise<unknown>): Promise<void> => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((res) => (timer = setTimeout(() => res('late'), DISPOSE_STOP_MS)));
      try {
        const r = await Promise.race([p.then(() => 'ok' as const, (err: unknown) => err), late]);
        if (r === 'late') problems.push(`${what}: did not finish within ${DISPOSE_STOP_MS} ms`);
        else if (r !== 'ok') problems.push(`${what}: ${r instanceof Error ? r.message : String(r)}`);
      } finally {
        clearTimeout(timer);
      }
    };
    await Promise.all([
      ...this.managers.map((m) => bounded(`stop ${m.label}`, m.stop())),
      ...this.processes.map((p) => bounded(`kill ${p.label}`, p.kill(DISPOSE_STOP_MS))),
    ]);
    await Promise.all(this.managers.map((m) => bounded(`close ${m.label}`, m.nc[Symbol.asyncDispose]())));
    try {
      if (!this.admin.isClosed()) {
        const jsm = await jetstreamManager(this.admin);
        for (const name of Object.values(this.buckets)) {
          await jsm.streams.delete(`KV_${name}`).catch(() => false);
        }
      }
    } catch (err) {
      problems.push(`delete buckets: ${err instanceof Error ? err.message : String(err)}`);
    }
    await this.admin[Symbol.asyncDispose]();
    if (this.ownsServer) await this.server[Symbol.asyncDispose]();
    if (problems.length > 0) process.stderr.write(`group cleanup problems:\n  ${problems.join('\n  ')}\n`);
  }
}

/** Resolves after `ms` (for pacing scenario steps only, never before an assertion). */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs `fn` and returns its result with the elapsed wall time in ms. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: Math.round(performance.now() - t0) };
}

/** Rejects with a named error unless `p` settles within `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`${what}: not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A partition source that serves `partitions` until `block()` is called; from then on every
 * call hangs. `honourSignal`: a hanging call rejects when its AbortSignal fires (a well-behaved
 * source); otherwise it never settles (a source that ignores cancellation).
 */
export class GatedSource implements PartitionSource {
  calls = 0;
  /** Calls that are hanging now or were left hanging. */
  blockedCalls = 0;
  #blocking = false;

  constructor(
    readonly partitions: readonly Partition[],
    readonly honourSignal: boolean,
  ) {}

  block(): void {
    this.#blocking = true;
  }

  listPartitions(signal?: AbortSignal): Promise<readonly Partition[]> {
    this.calls++;
    if (!this.#blocking) return Promise.resolve(this.partitions.slice());
    this.blockedCalls++;
    return new Promise((_, reject) => {
      if (!this.honourSignal) return;
      const abort = (): void => reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      if (signal?.aborted) abort();
      else signal?.addEventListener('abort', abort, { once: true });
    });
  }
}
