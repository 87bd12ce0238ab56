// `parti-ts worker` end to end: the process is run from source against a real nats-server and its
// stdout is checked against the JSON-lines contract of DESIGN.md §6.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DurationParseError, parseDuration } from '../../src/cli/args.js';
import { startNats, waitFor } from '../harness/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** parti Go's TestConfig timing, as flags. */
const FAST = [
  '--heartbeat-interval', '500ms',
  '--heartbeat-ttl', '1500ms',
  '--election-timeout', '2s',
  '--cold-start-window', '1s',
  '--planned-scale-window', '500ms',
  '--min-rebalance-interval', '100ms',
  '--emergency-grace', '750ms',
  '--worker-id-ttl', '5s',
];

interface Line {
  t?: number;
  event: string;
  workerId?: string | null;
  state?: string;
  leader?: boolean;
  version?: number | null;
  partitions?: string[];
  message?: string;
  code?: string;
}

interface Cli {
  readonly pid: number;
  readonly stdout: string[];
  readonly stderr: string[];
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** stdout parsed; throws on a line that is not one JSON object. */
  lines(): Line[];
}

const children = new Set<ChildProcess>();

function cli(...args: string[]): Cli {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  assert.ok(child.pid, 'spawned');
  children.add(child);
  const stdout: string[] = [];
  const stderr: string[] = [];
  const out = createInterface({ input: child.stdout });
  out.on('line', (l) => stdout.push(l));
  createInterface({ input: child.stderr }).on('line', (l) => stderr.push(l));
  const outClosed = new Promise<void>((res) => out.once('close', res));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      // Every stdout line is delivered before the caller looks at them.
      void outClosed.then(() => res({ code, signal }));
    });
  });
  return {
    pid: child.pid,
    stdout,
    stderr,
    exit,
    lines: () =>
      stdout.map((l) => {
        const v = JSON.parse(l) as unknown;
        assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v), `not a JSON object: ${l}`);
        return v as Line;
      }),
  };
}

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

after(() => {
  for (const c of children) if (c.pid !== undefined) killPid(c.pid);
});

const partitionsOf = (n: number) => Array.from({ length: n }, (_, i) => `partition-${i}`);
const lastAssignment = (w: Cli) => w.lines().filter((l) => l.event === 'assignment').at(-1);

async function exitOf(w: Cli, timeoutMs: number) {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`pid ${w.pid} still running after ${timeoutMs} ms\n${w.stderr.join('\n')}`)), timeoutMs);
  });
  try {
    return await Promise.race([w.exit, late]);
  } finally {
    clearTimeout(timer);
  }
}

void test('cli - durations parse to milliseconds and reject junk with a typed error', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2s'), 2_000);
  assert.equal(parseDuration('1.5s'), 1_500);
  assert.equal(parseDuration('1m'), 60_000);
  assert.equal(parseDuration('0'), 0);
  for (const bad of ['', '5', '2x', '-1s', '1.5ms', 's', '1 s2']) {
    assert.throws(() => parseDuration(bad, '--heartbeat-ttl'), DurationParseError, bad);
  }
});

void test('cli - worker --json reports Claiming…Stable, all partitions, and stops on SIGTERM', async () => {
  await using nats = await startNats();
  const w = cli('worker', '--nats', nats.url, '--partitions', '8', '--json', ...FAST);
  try {
    const first = await waitFor(() => (lastAssignment(w)?.partitions?.length === 8 ? lastAssignment(w) : undefined), {
      timeoutMs: 20_000,
      what: `an assignment of 8 partitions (stderr: ${w.stderr.join('\n')})`,
    });
    assert.deepEqual(first.partitions, partitionsOf(8));
    assert.equal(first.workerId, 'worker-0');
    assert.equal(typeof first.version, 'number');
    await waitFor(() => w.lines().some((l) => l.event === 'state' && l.state === 'Stable'), {
      timeoutMs: 10_000,
      what: 'a Stable state line',
    });

    const states = w.lines().filter((l) => l.event === 'state');
    const firstStable = states.findIndex((l) => l.state === 'Stable');
    assert.equal(states[0]?.state, 'Claiming', `first state: ${JSON.stringify(states[0])}`);
    // The lifecycle moves forward only: Claiming → Election → (WaitingAssignment | leader windows) → Stable.
    const rank: Record<string, number> = { Claiming: 0, Election: 1, WaitingAssignment: 2, Scaling: 2, Rebalancing: 2, Stable: 3 };
    const ranks = states.slice(0, firstStable + 1).map((l) => rank[l.state!]);
    assert.ok(
      ranks.every((r, i) => r !== undefined && (i === 0 || r >= ranks[i - 1]!)),
      `states out of order: ${states.map((l) => l.state).join(' → ')}`,
    );
    const stable = states[firstStable]!;
    assert.equal(stable.workerId, 'worker-0');
    assert.equal(stable.leader, true);
    for (const l of w.lines()) assert.equal(typeof l.t, 'number', JSON.stringify(l));

    process.kill(w.pid, 'SIGTERM');
    const { code } = await exitOf(w, 15_000);
    assert.equal(code, 0, w.stderr.join('\n'));
    const lines = w.lines(); // every stdout line is JSON
    assert.deepEqual({ ...lines.at(-1), t: 0 }, { t: 0, event: 'stopped', workerId: 'worker-0' });
  } finally {
    killPid(w.pid);
  }
});

void test('cli - two workers split the partitions exactly once', async () => {
  await using nats = await startNats();
  const a = cli('worker', '--nats', nats.url, '--partitions', '16', '--json', ...FAST);
  const b = cli('worker', '--nats', nats.url, '--partitions', '16', '--json', ...FAST);
  try {
    const [pa, pb] = await waitFor(
      () => {
        const la = lastAssignment(a);
        const lb = lastAssignment(b);
        if (!la?.partitions?.length || !lb?.partitions?.length || la.version !== lb.version) return undefined;
        return la.partitions.length + lb.partitions.length === 16 ? [la.partitions, lb.partitions] : undefined;
      },
      { timeoutMs: 25_000, what: 'both workers holding the same version covering 16 partitions' },
    );
    assert.deepEqual([...pa, ...pb].sort(), partitionsOf(16).sort(), 'each partition exactly once');
    const ids = [lastAssignment(a)?.workerId, lastAssignment(b)?.workerId].sort();
    assert.deepEqual(ids, ['worker-0', 'worker-1']);

    process.kill(a.pid, 'SIGTERM');
    process.kill(b.pid, 'SIGTERM');
    const [ea, eb] = await Promise.all([exitOf(a, 15_000), exitOf(b, 15_000)]);
    assert.equal(ea.code, 0, a.stderr.join('\n'));
    assert.equal(eb.code, 0, b.stderr.join('\n'));
    assert.equal(a.lines().at(-1)?.event, 'stopped');
    assert.equal(b.lines().at(-1)?.event, 'stopped');
  } finally {
    killPid(a.pid);
    killPid(b.pid);
  }
});

void test('cli - bad flags and invalid config exit 2 with an error line', async () => {
  const runs = [
    cli('worker', '--json', '--nats', 'nats://127.0.0.1:1', '--partitions', '4', '--bogus'),
    cli('worker', '--json', '--nats', 'nats://127.0.0.1:1', '--partitions', '4', '--heartbeat-ttl', '2x'),
    cli('worker', '--json', '--nats', 'nats://127.0.0.1:1', '--partitions', '4', '--heartbeat-interval', '2s', '--heartbeat-ttl', '1s'),
    cli('worker', '--json', '--partitions', '4'),
  ];
  try {
    const exits = await Promise.all(runs.map((r) => exitOf(r, 15_000)));
    for (const [i, r] of runs.entries()) {
      assert.equal(exits[i]?.code, 2, `run ${i}: ${r.stdout.join('\n')} ${r.stderr.join('\n')}`);
      const lines = r.lines();
      assert.equal(lines.length, 1, r.stdout.join('\n'));
      assert.equal(lines[0]?.event, 'error');
      assert.equal(typeof lines[0]?.message, 'string');
    }
    assert.match(runs[0]!.lines()[0]!.message!, /bogus/);
    assert.match(runs[1]!.lines()[0]!.message!, /--heartbeat-ttl/);
    assert.equal(runs[2]!.lines()[0]!.code, 'INVALID_CONFIG');
    assert.match(runs[2]!.lines()[0]!.message!, /heartbeatTtl/);
    assert.match(runs[3]!.lines()[0]!.message!, /--nats/);
  } finally {
    for (const r of runs) killPid(r.pid);
  }
});

void test('cli - an unreachable server exits 1 quickly with an error line', async () => {
  const started = Date.now();
  const w = cli('worker', '--json', '--nats', 'nats://127.0.0.1:1', '--partitions', '4');
  try {
    const { code } = await exitOf(w, 15_000);
    assert.equal(code, 1, w.stderr.join('\n'));
    const lines = w.lines();
    assert.equal(lines.length, 1, w.stdout.join('\n'));
    assert.equal(lines[0]?.event, 'error');
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  } finally {
    killPid(w.pid);
  }
});
