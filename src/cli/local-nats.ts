/**
 * A throw-away local nats-server for `parti-ts demo`: JetStream on, loopback only, a free port,
 * its own temporary store. Started detached (its own process group, so the terminal's Ctrl-C
 * does not reach it before the workers have left) and stopped by PID: SIGTERM, then SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LocalNats {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** SIGTERM, SIGKILL after `graceMs`, then removes the store. Idempotent. */
  stop(graceMs?: number): Promise<void>;
  /** Synchronous last resort (process 'exit' handlers): SIGKILL and remove the store. */
  killSync(): void;
}

export interface LocalNatsOptions {
  /** Path of the nats-server binary. */
  readonly bin: string;
  /** Deadline for the server to report it is ready. Default 15 s. */
  readonly readyTimeoutMs?: number;
}

export class LocalNatsError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LocalNatsError';
  }
}

/** A port that was free a moment ago (the server may still lose a race for it: start() retries). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new LocalNatsError('no free port'))));
    });
  });
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Starts nats-server and resolves once it logs "Server is ready". Retries twice on a port race. */
export async function startLocalNats(options: LocalNatsOptions): Promise<LocalNats> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(options, await freePort());
    } catch (err) {
      lastErr = err;
    }
  }
  throw lastErr instanceof Error ? lastErr : new LocalNatsError(String(lastErr));
}

async function startOnce(options: LocalNatsOptions, port: number): Promise<LocalNats> {
  const storeDir = mkdtempSync(join(tmpdir(), 'parti-ts-demo-nats-'));
  const child = spawn(options.bin, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  const removeStore = () => rmSync(storeDir, { recursive: true, force: true });
  let log = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const killSync = () => {
    if (child.pid !== undefined && alive(child)) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    removeStore();
  };

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => fail(new LocalNatsError(`nats-server not ready after ${options.readyTimeoutMs ?? 15_000} ms:\n${log}`)),
        options.readyTimeoutMs ?? 15_000,
      );
      const done = () => {
        clearTimeout(timer);
        child.stderr?.off('data', onData);
        child.off('exit', onExit);
        child.off('error', fail);
      };
      const fail = (err: Error) => {
        done();
        reject(err);
      };
      const onData = (chunk: Buffer) => {
        log += chunk.toString('utf8');
        if (log.length > 20_000) log = log.slice(-20_000);
        if (log.includes('Server is ready')) {
          done();
          resolve();
        }
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        fail(new LocalNatsError(`nats-server exited during startup (code ${code}, signal ${signal}):\n${log}`));
      child.stderr?.on('data', onData);
      child.once('exit', onExit);
      child.once('error', fail);
    });
  } catch (err) {
    killSync();
    throw err;
  }
  // Keep draining stderr so the server never blocks on a full pipe.
  child.stderr?.resume();
  child.stderr?.on('data', () => undefined);

  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 5_000): Promise<void> =>
    (stopping ??= (async () => {
      if (child.pid !== undefined && alive(child)) {
        try {
          process.kill(child.pid, 'SIGTERM');
        } catch {
          // Already gone.
        }
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
        const r = await Promise.race([exited.then(() => 'exited' as const), late]);
        clearTimeout(timer);
        if (r === 'late' && alive(child)) {
          try {
            process.kill(child.pid, 'SIGKILL');
          } catch {
            // Already gone.
          }
          await exited;
        }
      }
      removeStore();
    })());

  return { url: `nats://127.0.0.1:${port}`, port, pid: child.pid!, stop, killSync };
}
