// Starts real nats-server processes for tests (modelled on nats.js nst `launcher.ts`): a free
// loopback port (`-p -1` + ports file), a temporary JetStream store, readiness checked on the
// monitoring endpoint, restart on the same port and store, SIGSTOP/SIGCONT, and cleanup that
// cannot leak: `await using server = await startNats()` in tests, plus a module-level registry
// that SIGKILLs whatever is left when the test process exits.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { get } from 'node:http';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { resolveNatsServer } from '../../scripts/nats-server.mjs';
import { endpointGone, endpointUp } from './connect.js';
import { waitFor } from './wait.js';

export interface StartNatsOptions {
  /** Version line ("2.10") or exact version; default: $NATS_SERVER_BIN, else the newest (see scripts/nats-server.mjs). */
  version?: string;
  /** Client port; default a free one chosen by the server. */
  port?: number;
  /** JetStream store; default a temporary directory removed at dispose (a given one is kept). */
  storeDir?: string;
  /** Enable JetStream (default true). */
  jetstream?: boolean;
  /** Extra command-line arguments (e.g. `['-c', configFile]`); they come last. */
  args?: string[];
  serverName?: string;
}

export interface NatsServer extends AsyncDisposable {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** PID of the current (or last) process; changes on restart. */
  readonly pid: number;
  readonly storeDir: string;
  /** Version the running server reports, e.g. "2.15.1". */
  readonly version: string;
  /** `http://127.0.0.1:<port>` of the monitoring endpoint (changes on restart). */
  readonly monitorUrl: string;
  /** SIGTERM, then SIGKILL after a timeout. The server can be `restart()`ed afterwards. */
  stop(): Promise<void>;
  /** SIGKILL (a crash: no clean shutdown). */
  kill(): Promise<void>;
  /** Stops the server if it runs and starts it again on the same port with the same store. */
  restart(): Promise<void>;
  /** SIGSTOP: the server stops answering but keeps its sockets open. */
  pause(): void;
  /** SIGCONT */
  resume(): void;
}

const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;
const STDERR_TAIL_LINES = 40;

// ---------------------------------------------------------------------------------------------
// Last-resort cleanup: every process started here is SIGKILLed when the test process exits.

const live = new Map<number, ChildProcess>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;

function killAllLive(): void {
  for (const pid of live.keys()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

function onTerminationSignal(signal: NodeJS.Signals): void {
  killAllLive();
  // When nobody else handles the signal, keep its default meaning: terminate.
  if (process.listenerCount(signal) === 1) {
    process.removeListener(signal, onTerminationSignal);
    process.kill(process.pid, signal);
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killAllLive);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onTerminationSignal);
}

function register(child: ChildProcess): void {
  const pid = child.pid;
  if (pid === undefined) return;
  live.set(pid, child);
  child.once('exit', () => live.delete(pid));
  installExitHook();
}

/**
 * A temporary directory removed at process exit unless `removeTempDir` ran first.
 * @internal shared with nats-cluster.ts
 */
export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.add(dir);
  installExitHook();
  return dir;
}

/** @internal */
export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

// ---------------------------------------------------------------------------------------------
// Versions and binaries.

function versionParts(v: string): number[] {
  const core = v.trim().replace(/^v/, '').split(/[-+~]/)[0] ?? '';
  return core.split('.').map((p) => Number.parseInt(p, 10) || 0);
}

/** `serverVersionAtLeast("2.10.27", "2.11")` → false. Accepts "v2.10.27" and Debian "2.10.27-1+b2". */
export function serverVersionAtLeast(v: string, min: string): boolean {
  const a = versionParts(v);
  const b = versionParts(min);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}

function onVersionLine(v: string, line: string): boolean {
  const have = versionParts(v);
  return versionParts(line).every((p, i) => p === have[i]);
}

const binaries = new Map<string, Promise<string>>();

/** Path of the nats-server binary for `version` (memoized per process). */
export function natsServerBinary(version?: string): Promise<string> {
  const key = version ?? '';
  let p = binaries.get(key);
  if (!p) {
    p = findBinary(version);
    binaries.set(key, p);
    p.catch(() => binaries.delete(key));
  }
  return p;
}

async function findBinary(version?: string): Promise<string> {
  const envBin = process.env.NATS_SERVER_BIN;
  if (version === undefined) return envBin || resolveNatsServer();
  if (envBin) {
    const { stdout } = await promisify(execFile)(envBin, ['--version']);
    const m = /v?(\d+\.\d+\.\d+)/.exec(stdout);
    if (m?.[1] && onVersionLine(m[1], version)) return envBin;
  }
  return resolveNatsServer({ version, ignoreEnvBin: true });
}

// ---------------------------------------------------------------------------------------------

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

interface PortsFile {
  nats?: string[];
  monitoring?: string[];
}

/** GET returning parsed JSON, or undefined for a non-2xx answer. No keep-alive, no pooled sockets. */
export function httpGetJson<T = unknown>(url: string, timeoutMs = 2_000): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, timeout: timeoutMs, headers: { connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;
        if (!ok) return resolve(undefined);
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T);
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

class NatsServerProcess implements NatsServer {
  readonly #bin: string;
  readonly #opts: StartNatsOptions;
  readonly #tempRoot: string;
  readonly #portsDir: string;
  readonly storeDir: string;
  #child: ChildProcess | undefined;
  #exited: Promise<ExitInfo> = Promise.resolve({ code: null, signal: null });
  #exitInfo: ExitInfo | undefined;
  #stderrTail: string[] = [];
  #port = -1;
  #pid = -1;
  #monitorUrl = '';
  #version = '';
  #paused = false;
  #disposing: Promise<void> | undefined;

  constructor(bin: string, opts: StartNatsOptions, tempRoot: string, storeDir: string) {
    this.#bin = bin;
    this.#opts = opts;
    this.#tempRoot = tempRoot;
    this.#portsDir = join(tempRoot, 'ports');
    this.storeDir = storeDir;
    this.#port = opts.port ?? -1;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.#port}`;
  }
  get port(): number {
    return this.#port;
  }
  get pid(): number {
    return this.#pid;
  }
  get version(): string {
    return this.#version;
  }
  get monitorUrl(): string {
    return this.#monitorUrl;
  }

  #args(): string[] {
    const o = this.#opts;
    const args = ['-a', '127.0.0.1', '-p', String(this.#port), '-m', '-1', '--ports_file_dir', this.#portsDir];
    if (o.jetstream ?? true) args.push('-js', '-sd', this.storeDir);
    if (o.serverName) args.push('-n', o.serverName);
    args.push(...(o.args ?? []));
    return args;
  }

  #stderrText(): string {
    return this.#stderrTail.length ? this.#stderrTail.join('\n') : '(no output)';
  }

  async launch(): Promise<void> {
    if (this.#disposing) throw new Error('nats-server: already disposed');
    await mkdir(this.#portsDir, { recursive: true });
    this.#stderrTail = [];
    this.#exitInfo = undefined;
    this.#paused = false;
    const child = spawn(this.#bin, this.#args(), { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    this.#exited = new Promise<ExitInfo>((resolve) => {
      child.once('exit', (code, signal) => resolve((this.#exitInfo = { code, signal })));
      child.once('error', (error) => resolve((this.#exitInfo = { code: null, signal: null, error })));
    });
    if (child.pid === undefined) {
      const info = await this.#exited;
      throw new Error(`nats-server: could not start ${this.#bin}: ${info.error?.message ?? 'unknown error'}`);
    }
    this.#pid = child.pid;
    register(child);
    // A forgotten server must not keep the test process alive; the exit hook kills it.
    child.unref();
    let partial = '';
    const stderr = child.stderr as (NodeJS.ReadableStream & { unref?: () => void }) | null;
    stderr?.setEncoding('utf8');
    stderr?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      this.#stderrTail.push(...lines);
      if (this.#stderrTail.length > STDERR_TAIL_LINES) this.#stderrTail.splice(0, this.#stderrTail.length - STDERR_TAIL_LINES);
    });
    stderr?.unref?.();

    const portsFile = join(this.#portsDir, `nats-server_${child.pid}.ports`);
    let ready: { exited: ExitInfo } | { ports: PortsFile } | undefined;
    try {
      ready = await waitFor(
        async () => {
          if (this.#exitInfo) return { exited: this.#exitInfo };
          const ports = JSON.parse(await readFile(portsFile, 'utf8')) as PortsFile;
          const mon = ports.monitoring?.[0];
          if (!ports.nats?.[0] || !mon) return undefined;
          // JetStream enabled (not: meta leader known, which a lone cluster node never has).
          const health = await httpGetJson(`${mon}/healthz?js-enabled-only=true`, 1_000);
          return health ? { ports } : undefined;
        },
        { timeoutMs: START_TIMEOUT_MS, intervalMs: 25, what: `nats-server ${this.#bin} to become ready` },
      );
    } catch (err) {
      await this.#terminate();
      throw new Error(`${(err as Error).message}\n--- nats-server stderr (tail) ---\n${this.#stderrText()}`, { cause: err });
    }
    if ('exited' in ready) {
      const { code, signal } = ready.exited;
      throw new Error(
        `nats-server exited during startup (code ${code}, signal ${signal})\n` +
          `command: ${this.#bin} ${this.#args().join(' ')}\n--- nats-server stderr (tail) ---\n${this.#stderrText()}`,
      );
    }
    this.#port = Number(new URL(ready.ports.nats?.[0] ?? '').port);
    this.#monitorUrl = ready.ports.monitoring?.[0] ?? '';
    endpointUp(this.url);
    const varz = await httpGetJson<{ version?: string }>(`${this.#monitorUrl}/varz`);
    this.#version = varz?.version ?? '';
  }

  #running(): ChildProcess | undefined {
    return this.#child && !this.#exitInfo ? this.#child : undefined;
  }

  /** Resolves once the process exited, or rejects after `ms`. */
  async #waitExit(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((res) => (timer = setTimeout(() => res(false), ms)));
    try {
      return await Promise.race([this.#exited.then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL and wait; used when startup fails. */
  async #terminate(): Promise<void> {
    const child = this.#running();
    if (!child) return;
    child.kill('SIGKILL');
    await this.#waitExit(STOP_TIMEOUT_MS);
  }

  async stop(): Promise<void> {
    const child = this.#running();
    if (!child) return;
    if (this.#paused) this.resume(); // a stopped process would not act on SIGTERM
    child.kill('SIGTERM');
    if (await this.#waitExit(STOP_TIMEOUT_MS)) return;
    child.kill('SIGKILL');
    if (!(await this.#waitExit(STOP_TIMEOUT_MS))) {
      throw new Error(`nats-server pid ${this.#pid} survived SIGTERM and SIGKILL`);
    }
  }

  async kill(): Promise<void> {
    const child = this.#running();
    if (!child) return;
    child.kill('SIGKILL');
    if (!(await this.#waitExit(STOP_TIMEOUT_MS))) throw new Error(`nats-server pid ${this.#pid} survived SIGKILL`);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  pause(): void {
    const child = this.#running();
    if (!child) throw new Error('nats-server: pause() on a server that is not running');
    child.kill('SIGSTOP');
    this.#paused = true;
  }

  resume(): void {
    const child = this.#running();
    if (!child) throw new Error('nats-server: resume() on a server that is not running');
    child.kill('SIGCONT');
    this.#paused = false;
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.#disposing ??= (async () => {
      try {
        if (this.#port > 0) await endpointGone(this.url);
        await this.stop();
      } finally {
        await removeTempDir(this.#tempRoot);
      }
    })();
    return this.#disposing;
  }
}

/**
 * Starts a nats-server on a free loopback port with JetStream in a temporary store and waits until
 * it is ready. Use as `await using server = await startNats()`.
 */
export async function startNats(opts: StartNatsOptions = {}): Promise<NatsServer> {
  const bin = await natsServerBinary(opts.version);
  const tempRoot = await makeTempDir('parti-nats-');
  const server = new NatsServerProcess(bin, opts, tempRoot, opts.storeDir ?? join(tempRoot, 'store'));
  try {
    await server.launch();
  } catch (err) {
    await server[Symbol.asyncDispose]();
    throw err;
  }
  return server;
}
