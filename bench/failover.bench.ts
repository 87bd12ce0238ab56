/**
 * Failover benchmark: `npx tsx bench/failover.bench.ts [--runs N]` (default 7). Prints markdown
 * tables, asserts nothing.
 *
 * Each run starts its own nats-server (test harness) and 4 `parti-ts worker --json` processes
 * sharing 64 partitions with parti Go's TestConfig timing (HB 500 ms, TTL 1.5 s, grace 750 ms,
 * election 2 s, cold 1 s, planned 500 ms, cooldown 100 ms). Once the group has converged (all
 * Stable, one version, every partition exactly once) one worker is stopped and the time until
 * the survivors hold the group again is measured:
 *
 *   (a) SIGKILL of a follower  → survivors hold all 64 partitions (one version, exactly once)
 *   (b) SIGTERM of a follower  → the same (graceful leave: the heartbeat is deleted)
 *   (c) SIGKILL of the leader  → a survivor reports leader: true; and → survivors hold all 64
 *
 * Times run from just before the signal (this process's clock) to the `t` of the JSON line that
 * completed the condition (the workers' clock: same host).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startNats } from '../test/harness/index.js';
import type { WorkerLine } from '../src/cli/worker-command.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORKERS = 4;
const PARTITIONS = 64;
const CONVERGE_TIMEOUT_MS = 60_000;
const FAILOVER_TIMEOUT_MS = 30_000;

/** parti Go's TestConfig (timingPresets.test), as CLI flags. */
const TIMING_FLAGS = [
  '--heartbeat-interval', '500ms',
  '--heartbeat-ttl', '1500ms',
  '--emergency-grace', '750ms',
  '--election-timeout', '2s',
  '--cold-start-window', '1s',
  '--planned-scale-window', '500ms',
  '--min-rebalance-interval', '100ms',
  '--worker-id-ttl', '5s',
];

type Line = WorkerLine;

interface View {
  workerId: string | null;
  state: string | undefined;
  leader: boolean;
  version: number | null;
  partitions: string[] | undefined;
}

const children = new Set<ChildProcess>();

function killAll(): void {
  for (const c of children) c.kill('SIGKILL');
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

class CliWorker {
  readonly child: ChildProcess;
  readonly view: View = { workerId: null, state: undefined, leader: false, version: null, partitions: undefined };
  readonly exited: Promise<void>;
  readonly stderr: string[] = [];

  constructor(url: string, onLine: (w: CliWorker, l: Line) => void) {
    this.child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'worker', '--nats', url, '--partitions', String(PARTITIONS), '--json', ...TIMING_FLAGS],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.add(this.child);
    this.exited = new Promise((res) => this.child.once('exit', () => res()));
    void this.exited.then(() => children.delete(this.child));
    createInterface({ input: this.child.stdout! }).on('line', (text) => {
      let l: Line;
      try {
        l = JSON.parse(text) as Line;
      } catch {
        return;
      }
      if (l.event === 'state' || l.event === 'assignment') {
        this.view.workerId = l.workerId ?? null;
        this.view.state = l.state;
        this.view.leader = l.leader === true;
        this.view.version = l.version ?? null;
        if (l.event === 'assignment') this.view.partitions = l.partitions;
      }
      onLine(this, l);
    });
    createInterface({ input: this.child.stderr! }).on('line', (l) => {
      this.stderr.push(l);
      if (this.stderr.length > 50) this.stderr.shift();
    });
  }
}

/** True when `ws` hold every partition exactly once, all with the same version. */
function ownAll(ws: readonly CliWorker[]): boolean {
  const versions = new Set(ws.map((w) => w.view.version));
  if (versions.size !== 1 || versions.has(null)) return false;
  const seen = new Set<string>();
  for (const w of ws) {
    for (const p of w.view.partitions ?? []) {
      if (seen.has(p)) return false;
      seen.add(p);
    }
  }
  return seen.size === PARTITIONS;
}

class Group {
  readonly workers: CliWorker[] = [];
  #waiters = new Set<(t: number) => void>();

  constructor(url: string, n: number) {
    for (let i = 0; i < n; i++) {
      this.workers.push(
        new CliWorker(url, (_w, l) => {
          for (const check of [...this.#waiters]) check(l.t);
        }),
      );
    }
  }

  /** Resolves with the time (a line's `t`, or now) at which `pred` first held; rejects after `timeoutMs`. */
  until(pred: () => boolean, timeoutMs: number, what: string): Promise<number> {
    if (pred()) return Promise.resolve(Date.now());
    return new Promise((resolve, reject) => {
      const check = (t: number) => {
        if (!pred()) return;
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve(t);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  async close(): Promise<void> {
    for (const w of this.workers) w.child.kill('SIGKILL');
    await Promise.all(this.workers.map((w) => w.exited));
  }
}

type Scenario = 'a' | 'b' | 'c';
interface Sample {
  readonly scenario: Scenario;
  /** ms to the condition; undefined when it timed out. */
  readonly ownAllMs: number | undefined;
  readonly newLeaderMs?: number | undefined;
  readonly note?: string;
}

async function runOnce(scenario: Scenario): Promise<Sample> {
  await using server = await startNats();
  const group = new Group(server.url, WORKERS);
  try {
    await group.until(
      () => group.workers.every((w) => w.view.state === 'Stable') && ownAll(group.workers),
      CONVERGE_TIMEOUT_MS,
      'the group to converge',
    );
    // Let the last heartbeats and watches settle before disturbing the group.
    await sleep(1_000);
    const leader = group.workers.find((w) => w.view.leader);
    const follower = group.workers.find((w) => !w.view.leader);
    if (!leader || !follower) return { scenario, ownAllMs: undefined, note: 'no leader/follower after convergence' };
    const victim = scenario === 'c' ? leader : follower;
    const survivors = group.workers.filter((w) => w !== victim);

    const t0 = Date.now();
    victim.child.kill(scenario === 'b' ? 'SIGTERM' : 'SIGKILL');
    const newLeader =
      scenario === 'c'
        ? group
            .until(() => survivors.some((w) => w.view.leader), FAILOVER_TIMEOUT_MS, 'a new leader')
            .then((t) => t - t0)
            .catch(() => undefined)
        : Promise.resolve(undefined);
    const ownAllMs = await group
      .until(() => ownAll(survivors), FAILOVER_TIMEOUT_MS, 'the survivors to hold every partition')
      .then((t) => t - t0)
      .catch(() => undefined);
    return { scenario, ownAllMs, newLeaderMs: await newLeader };
  } catch (err) {
    return { scenario, ownAllMs: undefined, note: err instanceof Error ? err.message : String(err) };
  } finally {
    await group.close();
  }
}

function stats(xs: readonly (number | undefined)[]): string {
  const ok = xs.filter((x): x is number => x !== undefined).sort((a, b) => a - b);
  const failed = xs.length - ok.length;
  if (ok.length === 0) return `| – | – | – | ${xs.length} | ${failed} |`;
  const mid = ok.length / 2;
  const median = ok.length % 2 ? ok[Math.floor(mid)]! : (ok[mid - 1]! + ok[mid]!) / 2;
  return `| ${Math.round(median)} | ${ok[0]} | ${ok.at(-1)} | ${xs.length} | ${failed} |`;
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return m?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  } catch {
    return os.cpus()[0]?.model ?? 'unknown';
  }
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--runs');
  const runs = i >= 0 ? Number(process.argv[i + 1]) : 7;
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs <n>: a positive integer');

  const probe = await startNats();
  const natsVersion = probe.version;
  await probe[Symbol.asyncDispose]();
  const load0 = os.loadavg()[0]!;
  const started = Date.now();

  const samples: Sample[] = [];
  for (let r = 0; r < runs; r++) {
    // Interleaved, so that changes in machine load spread over all three scenarios.
    for (const s of ['a', 'b', 'c'] as const) {
      const sample = await runOnce(s);
      samples.push(sample);
      process.stderr.write(
        `run ${r + 1}/${runs} (${s}): own-all ${sample.ownAllMs ?? 'timeout'} ms` +
          `${s === 'c' ? `, new leader ${sample.newLeaderMs ?? 'timeout'} ms` : ''}${sample.note ? ` (${sample.note})` : ''}\n`,
      );
    }
  }
  const load1 = os.loadavg()[0]!;
  const of = (s: Scenario) => samples.filter((x) => x.scenario === s);

  const out = [
    `Machine: ${os.cpus().length} CPUs, ${cpuModel()}, ${os.platform()} ${os.arch()}, Node ${process.version}, ` +
      `nats-server ${natsVersion}; load average ${load0.toFixed(1)} → ${load1.toFixed(1)}; ` +
      `${((Date.now() - started) / 1000).toFixed(0)} s in all.`,
    `Workers: ${WORKERS} CLI processes, ${PARTITIONS} partitions, default strategy; timing ${TIMING_FLAGS.join(' ')}.`,
    '',
    '| scenario | median ms | min ms | max ms | runs | timed out |',
    '|---|--:|--:|--:|--:|--:|',
    `| (a) follower SIGKILL → survivors own all | ${stats(of('a').map((x) => x.ownAllMs)).slice(2)}`,
    `| (b) follower SIGTERM → survivors own all | ${stats(of('b').map((x) => x.ownAllMs)).slice(2)}`,
    `| (c) leader SIGKILL → new leader | ${stats(of('c').map((x) => x.newLeaderMs)).slice(2)}`,
    `| (c) leader SIGKILL → survivors own all | ${stats(of('c').map((x) => x.ownAllMs)).slice(2)}`,
  ];
  const notes = samples.filter((s) => s.note);
  for (const n of notes) out.push(`note (${n.scenario}): ${n.note}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

await main();
