/**
 * `parti-ts worker`: runs one Manager against a NATS server and reports every state and
 * assignment change, as JSON lines (--json, the contract of DESIGN.md §6) or readable text.
 * SIGTERM/SIGINT stop gracefully (exit 0); a second signal exits 130 at once; a fatal error
 * prints an error event and exits 1 (2 for a bad command line or config).
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { resolveConfig } from '../config.js';
import { InvalidConfigError, PartiError } from '../errors.js';
import { createManager, type Manager } from '../manager.js';
import { staticSource } from '../sources/static.js';
import { consistentHash, roundRobin, sticky, weightedConsistentHash } from '../strategies/index.js';
import { partitionId, type AssignmentStrategy, type Partition, type WorkerState } from '../types.js';
import {
  flagForConfigField,
  parseWorkerArgs,
  UsageError,
  WORKER_USAGE,
  type StrategyName,
  type WorkerArgs,
} from './args.js';

// ---------------------------------------------------------------------------------------------
// The output contract (one JSON object per line with --json).

export interface StateLine {
  readonly t: number;
  readonly event: 'state';
  readonly workerId: string | null;
  readonly state: WorkerState;
  readonly leader: boolean;
  readonly version: number | null;
}
export interface AssignmentLine extends Omit<StateLine, 'event'> {
  readonly event: 'assignment';
  readonly partitions: string[];
}
export interface StoppedLine {
  readonly t: number;
  readonly event: 'stopped';
  readonly workerId: string | null;
}
export interface ErrorLine {
  readonly t: number;
  readonly event: 'error';
  readonly message: string;
  readonly code?: string;
  readonly field?: string;
}
export type WorkerLine = StateLine | AssignmentLine | StoppedLine | ErrorLine;

/** How long a graceful stop may take before the command gives up and exits 1. */
const STOP_DEADLINE_MS = 20_000;
/** Initial connection attempt: an unreachable server must fail fast, not hang. */
const CONNECT_TIMEOUT_MS = 5_000;

const collator = new Intl.Collator('en', { numeric: true });

/** Partition ids (keys joined with '-'), sorted naturally: partition-2 before partition-10. */
export function partitionIds(partitions: readonly Partition[]): string[] {
  return partitions.map(partitionId).sort(collator.compare);
}

export function demoPartitions(n: number): Partition[] {
  return Array.from({ length: n }, (_, i) => ({ keys: [`partition-${i}`], weight: 100 }));
}

export function createStrategy(name: StrategyName | undefined): AssignmentStrategy | undefined {
  switch (name) {
    case undefined:
      return undefined;
    case 'consistent':
      return consistentHash();
    case 'weighted':
      return weightedConsistentHash();
    case 'roundrobin':
      return roundRobin();
    case 'sticky':
      return sticky();
  }
}

/** Writes events as JSON lines (stdout) or as readable text. */
class Reporter {
  constructor(readonly json: boolean) {}

  emit(line: WorkerLine): void {
    if (this.json) {
      // Errors go to stdout too in --json mode: tools read one stream of JSON objects.
      process.stdout.write(`${JSON.stringify(line)}\n`);
      return;
    }
    const text = formatText(line);
    if (line.event === 'error') process.stderr.write(`${text}\n`);
    else process.stdout.write(`${text}\n`);
  }

  error(err: unknown): void {
    this.emit(errorLine(err));
  }
}

export function errorLine(err: unknown): ErrorLine {
  const t = Date.now();
  if (err instanceof InvalidConfigError) {
    const flag = flagForConfigField(err.field);
    return {
      t,
      event: 'error',
      message: flag ? `${err.message} (flag ${flag})` : err.message,
      code: err.code,
      field: err.field,
    };
  }
  if (err instanceof PartiError) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return { t, event: 'error', message: `${err.message}${cause}`, code: err.code };
  }
  if (err instanceof UsageError) return { t, event: 'error', message: err.message, code: 'USAGE' };
  return { t, event: 'error', message: err instanceof Error ? err.message : String(err) };
}

function formatText(line: WorkerLine): string {
  const time = new Date(line.t).toISOString();
  switch (line.event) {
    case 'state':
      return `${time} ${line.workerId ?? '(no id)'} state ${line.state}${line.leader ? ' (leader)' : ''} version ${line.version ?? '-'}`;
    case 'assignment': {
      const list = line.partitions.length > 0 ? `: ${line.partitions.join(', ')}` : '';
      return `${time} ${line.workerId ?? '(no id)'} assignment version ${line.version ?? '-'}: ${line.partitions.length} partition(s)${list}`;
    }
    case 'stopped':
      return `${time} ${line.workerId ?? '(no id)'} stopped`;
    case 'error':
      return `parti-ts worker: error${line.code ? ` [${line.code}]` : ''}: ${line.message}`;
  }
}

/**
 * Mirrors the manager into lines. Subscribes to the actor *after* the Manager did (in its
 * constructor), so every getter is already up to date for each snapshot; a change of leadership
 * without a change of state also yields a `state` line.
 */
function reportChanges(m: Manager, reporter: Reporter): { unsubscribe(): void } {
  let lastState: WorkerState | undefined;
  let lastLeader = false;
  let lastAssignment = m.assignment;
  // Key order as in DESIGN.md §6: t, event, workerId, state, leader, version[, partitions].
  const line = <E extends 'state' | 'assignment'>(event: E) => ({
    t: Date.now(),
    event,
    workerId: m.workerId ?? null,
    state: m.state,
    leader: m.isLeader,
    version: m.assignment?.version ?? null,
  });
  const sync = () => {
    if (m.state === 'Init' && lastState === undefined) return;
    if (m.state !== lastState || m.isLeader !== lastLeader) {
      lastState = m.state;
      lastLeader = m.isLeader;
      reporter.emit(line('state'));
    }
    const a = m.assignment;
    if (a !== lastAssignment) {
      lastAssignment = a;
      reporter.emit({ ...line('assignment'), partitions: partitionIds(a?.partitions ?? []) });
    }
  };
  const sub = m.actor.subscribe({ next: sync, error: () => sync(), complete: () => sync() });
  return { unsubscribe: () => sub.unsubscribe() };
}

/** Runs the command; resolves with the exit code. */
export async function runWorker(argv: readonly string[]): Promise<number> {
  const reporter = new Reporter(argv.includes('--json'));
  let args: WorkerArgs;
  try {
    args = parseWorkerArgs(argv);
    if (args.help) {
      process.stdout.write(`${WORKER_USAGE}\n`);
      return 0;
    }
    resolveConfig(args.config); // fail on bad values before touching the network
  } catch (err) {
    if (err instanceof UsageError || err instanceof InvalidConfigError) {
      reporter.error(err);
      if (!reporter.json) process.stderr.write(`\n${WORKER_USAGE}\n`);
      return 2;
    }
    throw err;
  }
  return new WorkerRun(args, reporter).run();
}

class WorkerRun {
  readonly #args: WorkerArgs;
  readonly #reporter: Reporter;
  readonly #abort = new AbortController();
  #signals = 0;
  #nc: NatsConnection | undefined;
  #manager: Manager | undefined;
  /** Resolves when something ends the run: a signal, the worker stopping by itself, the connection closing. */
  readonly #ended: Promise<'signal' | 'worker' | 'connection'>;
  #end!: (why: 'signal' | 'worker' | 'connection') => void;

  constructor(args: WorkerArgs, reporter: Reporter) {
    this.#args = args;
    this.#reporter = reporter;
    this.#ended = new Promise((resolve) => (this.#end = resolve));
  }

  readonly #onSignal = (signal: NodeJS.Signals) => {
    this.#signals++;
    if (this.#signals > 1) {
      process.stderr.write(`parti-ts worker: second ${signal} while stopping, exiting now\n`);
      process.exit(130);
    }
    this.#abort.abort(new Error(`received ${signal}`));
    this.#end('signal');
  };

  async run(): Promise<number> {
    process.on('SIGTERM', this.#onSignal);
    process.on('SIGINT', this.#onSignal);
    try {
      return await this.#run();
    } finally {
      process.off('SIGTERM', this.#onSignal);
      process.off('SIGINT', this.#onSignal);
    }
  }

  async #run(): Promise<number> {
    const args = this.#args;
    const logger = pino(
      { level: args.logLevel, base: { pid: process.pid, cmd: 'parti-ts worker' } },
      pino.destination({ dest: 2, sync: true }),
    );

    // 1. Connect (an unreachable server fails within CONNECT_TIMEOUT_MS).
    try {
      this.#nc = await connect({
        servers: args.nats.split(',').map((s) => s.trim()),
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        timeout: CONNECT_TIMEOUT_MS,
        name: 'parti-ts worker',
      });
    } catch (err) {
      if (this.#abort.signal.aborted) return this.#stopped();
      this.#reporter.emit({ ...errorLine(err), message: `cannot connect to ${args.nats}: ${errorLine(err).message}` });
      return 1;
    }
    const nc = this.#nc;
    void nc.closed().then(() => this.#end('connection'));
    if (this.#abort.signal.aborted) return this.#stopped();

    // 2. Create and start the manager.
    let m: Manager;
    try {
      m = createManager({
        connection: nc,
        source: staticSource(demoPartitions(args.partitions)),
        ...(args.strategy ? { strategy: createStrategy(args.strategy) } : {}),
        config: args.config,
        logger,
      });
    } catch (err) {
      this.#reporter.error(err);
      await nc.close();
      return err instanceof InvalidConfigError ? 2 : 1;
    }
    this.#manager = m;
    const reporting = reportChanges(m, this.#reporter);
    m.actor.subscribe({
      next: (s) => {
        if (s.status !== 'active') this.#end('worker');
      },
      error: () => this.#end('worker'),
      complete: () => this.#end('worker'),
    });

    try {
      await m.start({ signal: this.#abort.signal });
    } catch (err) {
      if (this.#abort.signal.aborted) return this.#stopped();
      reporting.unsubscribe();
      this.#reporter.error(err);
      await m.stop();
      await closeQuietly(nc);
      return 1;
    }

    // 3. Serve until a signal, a fatal worker error or the connection closing for good.
    const why = await this.#ended;
    if (why === 'signal') return this.#stopped();
    reporting.unsubscribe();
    const fatal = m.actor.getSnapshot().context.fatalError;
    this.#reporter.error(
      why === 'connection'
        ? new Error('the NATS connection closed')
        : (fatal ?? new Error(`the worker stopped unexpectedly (state ${m.state})`)),
    );
    await withDeadline(m.stop(), STOP_DEADLINE_MS);
    await closeQuietly(nc);
    return 1;
  }

  /** Graceful stop after a signal: stop the manager, report, close the connection. */
  async #stopped(): Promise<number> {
    const m = this.#manager;
    let code = 0;
    const workerId = m?.workerId ?? null; // captured first: shutdown releases the ID
    if (m) {
      const ok = await withDeadline(m.stop(), STOP_DEADLINE_MS);
      if (!ok) {
        this.#reporter.error(new Error(`graceful stop did not finish within ${STOP_DEADLINE_MS} ms`));
        code = 1;
      }
    }
    if (code === 0) this.#reporter.emit({ t: Date.now(), event: 'stopped', workerId: workerId ?? m?.workerId ?? null });
    if (this.#nc) await closeQuietly(this.#nc);
    return code;
  }
}

async function closeQuietly(nc: NatsConnection): Promise<void> {
  try {
    if (!nc.isClosed()) await nc.close();
  } catch {
    // Closing a connection that is already failing: nothing left to release.
  }
}

/** True when `p` settled within `ms`. */
async function withDeadline(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
