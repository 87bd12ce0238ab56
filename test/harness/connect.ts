// Client connections for tests: test-friendly reconnect defaults and `await using` disposal that
// closes (rather than drains, which can hang while the server is down) and is idempotent.
//
// Leak guard: with `maxReconnectAttempts: -1` a connection left open after its server is gone
// reconnects forever and keeps the test process alive (the run hangs after the last test). So
// every connection made here is tracked, and when the last endpoint it can reach is disposed
// (a harness server or proxy), it is closed with a PARTI_HARNESS_LEAKED_CONNECTION warning.
import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';

export type TestConnection = NatsConnection & AsyncDisposable;

export type ConnectTarget = string | readonly string[] | { url: string } | { urls: readonly string[] };

export const TEST_CONNECTION_DEFAULTS = {
  maxReconnectAttempts: -1,
  reconnectTimeWait: 250,
  timeout: 5_000,
} as const satisfies Partial<NodeConnectionOptions>;

function servers(target: ConnectTarget): string[] {
  if (typeof target === 'string') return [target];
  if ('urls' in target) return [...target.urls];
  if ('url' in target) return [target.url];
  return [...target];
}

/** "nats://localhost:4222" → "127.0.0.1:4222" */
function endpointKey(url: string): string {
  const m = /^(?:[a-z]+:\/\/)?(?:[^@/]*@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?/i.exec(url.trim());
  const host = m?.[1] === 'localhost' ? '127.0.0.1' : (m?.[1] ?? url);
  return `${host}:${m?.[2] ?? '4222'}`;
}

interface Tracked {
  readonly nc: NatsConnection;
  readonly endpoints: string[];
  readonly close: () => Promise<void>;
}

const tracked = new Set<Tracked>();
const goneEndpoints = new Set<string>();

/** @internal A harness server or proxy listens at `url` (again). */
export function endpointUp(url: string): void {
  goneEndpoints.delete(endpointKey(url));
}

/** @internal A harness server or proxy at `url` is being disposed: close connections left with nowhere to go. */
export async function endpointGone(url: string): Promise<void> {
  goneEndpoints.add(endpointKey(url));
  const leaked = [...tracked].filter((t) => !t.nc.isClosed() && t.endpoints.every((e) => goneEndpoints.has(e)));
  for (const t of leaked) {
    tracked.delete(t);
    process.emitWarning(
      `test connection to ${t.endpoints.join(', ')} was still open when its server was disposed; closing it`,
      { code: 'PARTI_HARNESS_LEAKED_CONNECTION' },
    );
  }
  await Promise.allSettled(leaked.map((t) => t.close()));
}

/** Connects to a server, a cluster (`{ urls }`) or URL(s). `opts` override the test defaults. */
export async function connectTo(target: ConnectTarget, opts: Partial<NodeConnectionOptions> = {}): Promise<TestConnection> {
  const options = { servers: servers(target), ...TEST_CONNECTION_DEFAULTS, ...opts };
  const nc = await connect(options);
  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    closing ??= nc.isClosed() ? Promise.resolve() : nc.close();
    await closing;
    await nc.closed();
  };
  const urls = typeof options.servers === 'string' ? [options.servers] : [...(options.servers ?? [])];
  const entry: Tracked = { nc, endpoints: urls.map(endpointKey), close };
  tracked.add(entry);
  void nc.closed().then(() => tracked.delete(entry));
  Object.defineProperty(nc, Symbol.asyncDispose, { value: close, configurable: true, writable: true });
  return nc;
}
