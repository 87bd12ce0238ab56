// Client connections for tests: test-friendly reconnect defaults and `await using` disposal that
// closes (rather than drains, which can hang while the server is down) and is idempotent.
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

/** Connects to a server, a cluster (`{ urls }`) or URL(s). `opts` override the test defaults. */
export async function connectTo(target: ConnectTarget, opts: Partial<NodeConnectionOptions> = {}): Promise<TestConnection> {
  const nc = await connect({ servers: servers(target), ...TEST_CONNECTION_DEFAULTS, ...opts });
  let closing: Promise<void> | undefined;
  const dispose = async (): Promise<void> => {
    closing ??= nc.isClosed() ? Promise.resolve() : nc.close();
    await closing;
    await nc.closed();
  };
  Object.defineProperty(nc, Symbol.asyncDispose, { value: dispose, configurable: true, writable: true });
  return nc;
}
