/**
 * `parti-ts demo`: a local nats-server plus N `parti-ts worker --json` child processes with a fast
 * timing profile. Shows their states live, SIGKILLs one worker once the group is stable, adds a
 * new one once the survivors own every partition, and narrates each step. Everything it starts is
 * killed on every exit path (Ctrl-C, --duration, errors, uncaught exceptions).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { resolveNatsServer } from '../../scripts/nats-server.mjs';
import { DEMO_USAGE, formatDuration, parseDemoArgs, UsageError, type DemoArgs } from './args.js';
import { renderTable, Screen, type RowStatus, type WorkerRow } from './demo-table.js';
import { startLocalNats, type LocalNats } from './local-nats.js';
import type { WorkerLine } from './worker-command.js';

/** Fast timing profile of the demo workers (flags of `parti-ts worker`). */
export const DEMO_TIMING = [
  '--heartbeat-interval', '500ms',
  '--heartbeat-ttl', '1500ms',
  '--election-timeout', '2s',
  '--cold-start-window', '2s',
  '--planned-scale-window', '1s',
  '--min-rebalance-interval', '500ms',
  '--emergency-grace', '750ms',
  '--worker-id-ttl', '5s',
] as const;

/** How long the group must stay stable before the demo kills a worker. */
const STABLE_HOLD_MS = 2_000;
/** Deadline of each scenario step. */
const STEP_TIMEOUT_MS = 60_000;
/** SIGTERM → SIGKILL grace for workers and the server at the end. */
const STOP_GRACE_MS = 5_000;

const HERE = fileURLToPath(import.meta.url);
const FROM_SOURCE = import.meta.url.endsWith('.ts');
/** src/cli or dist/cli → the package root. */
const PACKAGE_ROOT = resolve(dirname(HERE), '..', '..');

/** The command line of a worker child: through tsx from source, else the compiled CLI. */
export function workerCommand(extra: readonly string[]): { file: string; args: string[]; cwd: string } {
  const main = join(dirname(HERE), FROM_SOURCE ? 'main.ts' : 'main.js');
  const pre = FROM_SOURCE ? ['--import', 'tsx'] : [];
  return { file: process.execPath, args: [...pre, main, 'worker', ...extra], cwd: PACKAGE_ROOT };
}

/** One worker child process and what it last reported. */
class WorkerProcess {
  readonly slot: number;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  workerId: string | null = null;
  state = '-';
  leader = false;
  partitions: readonly string[] = [];
  version: number | null = null;
  status: RowStatus = 'starting';
  lastError: string | undefined;
  #stderrTail: string[] = [];
  /** Set when the demo itself sent a signal (so the exit is expected). */
  intent: 'kill' | 'stop' | undefined;

  constructor(slot: number, child: ChildProcess, onChange: () => void, onExit: (w: WorkerProcess) => void) {
    this.slot = slot;
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    if (child.stdout) {
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (this.#onLine(line)) onChange();
      });
    }
    if (child.stderr) {
      createInterface({ input: child.stderr }).on('line', (line) => {
        this.#stderrTail.push(line);
        if (this.#stderrTail.length > 10) this.#stderrTail.shift();
      });
    }
    child.once('exit', () => {
      this.status = this.intent === 'kill' ? 'killed' : this.intent === 'stop' ? 'stopped' : 'exited';
      this.leader = false;
      onChange();
      onExit(this);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
  get live(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.intent === undefined;
  }
  get name(): string {
    return this.workerId ?? `worker #${this.slot}`;
  }
  get stderrTail(): string {
    return this.#stderrTail.join('\n');
  }

  row(): WorkerRow {
    return {
      slot: this.slot,
      pid: this.pid,
      workerId: this.workerId,
      state: this.state,
      leader: this.leader,
      partitions: this.partitions.length,
      version: this.version,
      status: this.status,
    };
  }

  signal(sig: NodeJS.Signals, intent: 'kill' | 'stop'): void {
    this.intent ??= intent;
    if (this.child.exitCode !== null || this.child.signalCode !== null || this.pid === undefined) return;
    if (intent === 'stop' && this.status === 'running') this.status = 'stopping';
    try {
      process.kill(this.pid, sig);
    } catch {
      // Exited in between.
    }
  }

  /** Applies one JSON line; true when something shown changed. */
  #onLine(text: string): boolean {
    let line: WorkerLine;
    try {
      line = JSON.parse(text) as WorkerLine;
    } catch {
      this.#stderrTail.push(`(stdout) ${text}`);
      return false;
    }
    if (this.status === 'starting') this.status = 'running';
    switch (line.event) {
      case 'state':
        this.workerId = line.workerId ?? this.workerId;
        this.state = line.state;
        this.leader = line.leader;
        this.version = line.version;
        return true;
      case 'assignment':
        this.workerId = line.workerId ?? this.workerId;
        this.state = line.state;
        this.leader = line.leader;
        this.version = line.version;
        this.partitions = line.partitions;
        return true;
      case 'stopped':
        this.state = 'Shutdown';
        this.leader = false;
        return true;
      case 'error':
        this.lastError = `${line.code ? `[${line.code}] ` : ''}${line.message}`;
        return true;
      default:
        return false;
    }
  }
}

class Demo {
  readonly #args: DemoArgs;
  readonly #events = new EventEmitter();
  readonly #stopRequested = new AbortController();
  readonly #scenarioAbort = new AbortController();
  readonly #workers: WorkerProcess[] = [];
  readonly #startedAt = Date.now();
  readonly screen: Screen;
  #server: LocalNats | undefined;
  #cleaning: Promise<void> | undefined;
  #stopping = false;

  constructor(args: DemoArgs) {
    this.#args = args;
    this.#events.setMaxListeners(0);
    this.screen = new Screen({ out: process.stdout, table: (color) => this.#table(color) });
  }

  /** Ctrl-C, SIGTERM or the end of --duration. */
  requestStop(reason: string): void {
    if (this.#stopRequested.signal.aborted) return;
    this.screen.narrate(`${reason}: stopping`);
    this.#stopRequested.abort(new Error(reason));
  }

  async run(): Promise<void> {
    const { workers, partitions, durationMs } = this.#args;
    this.screen.narrate(`parti-ts demo: ${workers} workers, ${partitions} partitions${durationMs ? `, for ${formatDuration(durationMs)}` : ', Ctrl-C to stop'}`);
    const bin = await resolveNatsServer();
    if (this.#stopRequested.signal.aborted) return;
    this.#server = await startLocalNats({ bin });
    this.screen.narrate(`nats-server (pid ${this.#server.pid}) ready at ${this.#server.url}`);
    if (this.#stopRequested.signal.aborted) return;

    for (let i = 0; i < workers; i++) this.#spawnWorker();

    let durationTimer: NodeJS.Timeout | undefined;
    if (durationMs !== undefined) {
      durationTimer = setTimeout(() => this.requestStop(`--duration ${formatDuration(durationMs)} reached`), durationMs);
    }
    const stopped = new Promise<void>((resolve) =>
      this.#stopRequested.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    const scenario = this.#scenario().catch((err: unknown) => {
      if (this.#scenarioAbort.signal.aborted) return;
      throw err;
    });
    try {
      await Promise.race([stopped, scenario.then(() => stopped)]);
    } finally {
      clearTimeout(durationTimer);
      this.#scenarioAbort.abort();
    }
  }

  /** Stops every worker (SIGTERM, SIGKILL after a grace) and then the server. Idempotent. */
  cleanup(): Promise<void> {
    return (this.#cleaning ??= this.#cleanup());
  }

  async #cleanup(): Promise<void> {
    this.#stopping = true;
    this.#scenarioAbort.abort();
    const live = this.#workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
    if (live.length > 0) {
      this.screen.narrate(`stopping ${live.length} worker(s) (SIGTERM)`);
      for (const w of live) w.signal('SIGTERM', 'stop');
      const forced = await Promise.all(
        live.map(async (w) => {
          if (await settlesWithin(w.exited, STOP_GRACE_MS)) return false;
          w.signal('SIGKILL', 'stop');
          await w.exited;
          return true;
        }),
      );
      const n = forced.filter(Boolean).length;
      this.screen.narrate(`workers stopped${n > 0 ? ` (${n} did not stop within ${formatDuration(STOP_GRACE_MS)}: SIGKILL)` : ' gracefully'}`);
    }
    if (this.#server) {
      await this.#server.stop(STOP_GRACE_MS);
      this.screen.narrate(`nats-server (pid ${this.#server.pid}) stopped`);
    }
    this.screen.close(this.#workers.length > 0);
  }

  /** Last resort, synchronous (process 'exit', uncaught errors): SIGKILL everything. */
  killAllSync(): void {
    for (const w of this.#workers) {
      if (w.pid !== undefined && w.child.exitCode === null && w.child.signalCode === null) {
        try {
          process.kill(w.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
    this.#server?.killSync();
  }

  #spawnWorker(): WorkerProcess {
    const server = this.#server;
    if (!server) throw new Error('nats-server is not running');
    const flags = [
      '--nats', server.url,
      '--partitions', String(this.#args.partitions),
      '--json',
      ...DEMO_TIMING,
      ...(this.#args.strategy ? ['--strategy', this.#args.strategy] : []),
    ];
    const { file, args, cwd } = workerCommand(flags);
    const child = spawn(file, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const w = new WorkerProcess(this.#workers.length + 1, child, () => this.#changed(), (x) => this.#onExit(x));
    child.on('error', (err) => {
      w.lastError = err.message;
      this.screen.narrate(`worker #${w.slot} failed to start: ${err.message}`);
    });
    this.#workers.push(w);
    this.screen.narrate(`started worker #${w.slot} (pid ${child.pid ?? '?'})`);
    this.#changed();
    return w;
  }

  #onExit(w: WorkerProcess): void {
    if (w.intent !== undefined || this.#stopping) return;
    const code = w.child.exitCode;
    const why = w.lastError ?? (w.stderrTail || 'no output');
    this.screen.narrate(`${w.name} (pid ${w.pid}) exited unexpectedly (code ${code}, signal ${w.child.signalCode}): ${why}`);
  }

  #changed(): void {
    this.screen.update();
    this.#events.emit('change');
  }

  #live(): WorkerProcess[] {
    return this.#workers.filter((w) => w.live);
  }

  /** Distinct partitions owned by `ws`, and whether each is owned exactly once. */
  #coverage(ws: readonly WorkerProcess[]): { owned: number; exact: boolean } {
    const seen = new Set<string>();
    let total = 0;
    for (const w of ws) {
      for (const p of w.partitions) seen.add(p);
      total += w.partitions.length;
    }
    return { owned: seen.size, exact: seen.size === this.#args.partitions && total === this.#args.partitions };
  }

  /** Every worker of `ws` is Stable on one version, and together they own each partition once. */
  #settled(ws: readonly WorkerProcess[]): boolean {
    if (ws.length === 0) return false;
    const v = ws[0]?.version ?? null;
    return v !== null && ws.every((w) => w.state === 'Stable' && w.version === v) && this.#coverage(ws).exact;
  }

  #table(color: boolean): string[] {
    const live = this.#live();
    return renderTable(
      this.#workers.map((w) => w.row()),
      { owned: this.#coverage(live).owned, total: this.#args.partitions, elapsedMs: Date.now() - this.#startedAt },
      color,
    );
  }

  /** Resolves once `pred` holds (checked now and on every change); rejects on abort or timeout. */
  #until(pred: () => boolean, what: string, timeoutMs = STEP_TIMEOUT_MS): Promise<void> {
    const signal = this.#scenarioAbort.signal;
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.#events.off('change', check);
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const check = () => {
        if (pred()) done();
      };
      const onAbort = () => done(new Error('scenario aborted'));
      const timer = setTimeout(() => done(new Error(`timed out after ${formatDuration(timeoutMs)} waiting for ${what}`)), timeoutMs);
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.#events.on('change', check);
      check();
    });
  }

  #delay(ms: number): Promise<void> {
    const signal = this.#scenarioAbort.signal;
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(new Error('scenario aborted'));
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  async #scenario(): Promise<void> {
    const P = this.#args.partitions;
    try {
      // 1. The group forms.
      await this.#until(() => this.#live().length === this.#args.workers && this.#settled(this.#live()), 'a stable group');
      const group = this.#live();
      this.screen.narrate(
        `group stable: ${group.length} worker(s) own ${P}/${P} partitions (v${group[0]?.version}) after ${formatDuration(Date.now() - this.#startedAt)}`,
      );
      if (group.length < 2) {
        this.screen.narrate('one worker only: no kill/add scenario (use --workers 2 or more)');
        return;
      }
      await this.#delay(STABLE_HOLD_MS);
      await this.#until(() => this.#settled(this.#live()), 'a stable group before the kill');

      // 2. Kill a worker (a follower when there is one: the leader stays, the emergency path runs).
      const live = this.#live();
      const followers = live.filter((w) => !w.leader);
      const victim = (followers.length > 0 ? followers : live).at(-1)!;
      const lost = victim.partitions.length;
      const killedAt = Date.now();
      victim.signal('SIGKILL', 'kill');
      this.screen.narrate(`killed ${victim.name} (SIGKILL, pid ${victim.pid}); its ${lost} partition(s) are orphaned until the leader notices`);
      await this.#until(() => this.#settled(this.#live()), 'the survivors to own every partition');
      const survivors = this.#live();
      this.screen.narrate(
        `survivors own ${P}/${P} partitions after ${formatDuration(Date.now() - killedAt)} (${survivors.length} worker(s), v${survivors[0]?.version})`,
      );

      // 3. Add a worker.
      const addedAt = Date.now();
      const added = this.#spawnWorker();
      this.screen.narrate(`added a worker (pid ${added.pid}); waiting for it to join`);
      await this.#until(
        () => added.live && added.state === 'Stable' && this.#settled(this.#live()) && (added.partitions.length > 0 || P < this.#live().length),
        'the new worker to join',
      );
      const all = this.#live();
      this.screen.narrate(
        `${added.name} joined with ${added.partitions.length} partition(s): ${all.length} workers own ${P}/${P} partitions after ${formatDuration(Date.now() - addedAt)} (v${all[0]?.version})`,
      );
      this.screen.narrate(
        this.#args.durationMs === undefined ? 'scenario complete; press Ctrl-C to stop' : 'scenario complete; running until --duration',
      );
    } catch (err) {
      if (this.#scenarioAbort.signal.aborted) return;
      this.screen.narrate(`scenario stopped: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** True when `p` settles within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the demo; resolves with the exit code. */
export async function runDemo(argv: readonly string[]): Promise<number> {
  let args: DemoArgs;
  try {
    args = parseDemoArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`parti-ts demo: ${err.message}\n\n${DEMO_USAGE}\n`);
      return 2;
    }
    throw err;
  }
  if (args.help) {
    process.stdout.write(`${DEMO_USAGE}\n`);
    return 0;
  }

  const demo = new Demo(args);
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      process.stderr.write(`parti-ts demo: second ${sig}, killing everything\n`);
      demo.killAllSync();
      process.exit(130);
    }
    demo.requestStop(sig === 'SIGINT' ? 'Ctrl-C' : sig);
  };
  const onFatal = (err: unknown) => {
    process.stderr.write(`parti-ts demo: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    demo.killAllSync();
    process.exit(1);
  };
  const onExit = () => demo.killAllSync();
  const onStdoutError = () => undefined; // EPIPE (output piped into `head`): keep cleaning up
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal); // the terminal went away: still clean up
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);
  process.on('exit', onExit);
  process.stdout.on('error', onStdoutError);

  let code = 0;
  try {
    await demo.run();
  } catch (err) {
    demo.screen.narrate(`error: ${err instanceof Error ? err.message : String(err)}`);
    code = 1;
  } finally {
    await demo.cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    process.off('uncaughtException', onFatal);
    process.off('unhandledRejection', onFatal);
    process.off('exit', onExit);
    process.stdout.off('error', onStdoutError);
  }
  return code;
}
