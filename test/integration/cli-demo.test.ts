// `parti-ts demo` end to end: it runs its scenario (kill a worker, add one), exits 0 at --duration
// and leaves no nats-server or worker process behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../harness/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** True when the PID exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

void test('cli - demo kills and adds a worker, exits 0 at --duration and leaves no process behind', async () => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--duration', '15s', '--workers', '3', '--partitions', '16'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  assert.ok(child.pid);
  const out: string[] = [];
  const err: string[] = [];
  const stdout = createInterface({ input: child.stdout });
  stdout.on('line', (l) => out.push(l));
  createInterface({ input: child.stderr }).on('line', (l) => err.push(l));
  const stdoutClosed = new Promise<void>((res) => stdout.once('close', res));
  let status: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.once('exit', (code, signal) => (status = { code, signal }));

  const pids = (re: RegExp) => out.flatMap((l) => [...l.matchAll(re)].map((m) => Number(m[1])));
  try {
    await waitFor(() => status, { timeoutMs: 45_000, what: 'the demo to exit' });
    await stdoutClosed;
    const text = out.join('\n');
    assert.equal(status?.code, 0, `${text}\n--- stderr\n${err.join('\n')}`);
    assert.match(text, /killed worker-\d+ \(SIGKILL/);
    assert.match(text, /survivors own 16\/16 partitions after/);
    assert.match(text, /worker-\d+ joined with \d+ partition\(s\): 3 workers own 16\/16 partitions/);

    const server = pids(/nats-server \(pid (\d+)\)/g);
    const workers = pids(/started worker #\d+ \(pid (\d+)\)/g);
    assert.ok(server.length >= 1, 'the server pid is printed');
    assert.equal(new Set(workers).size, 4, 'three workers plus the one added');
    for (const pid of [...server, ...workers]) assert.equal(alive(pid), false, `pid ${pid} still running`);
  } finally {
    if (child.pid !== undefined) killPid(child.pid);
    for (const pid of pids(/\(pid (\d+)/g)) if (alive(pid)) killPid(pid);
  }
});
