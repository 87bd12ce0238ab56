// Test harness: real nats-server processes, a cluster, a TCP proxy, connections and wait helpers.
export { startNats, serverVersionAtLeast, natsServerBinary, httpGetJson } from './nats-server.js';
export type { NatsServer, StartNatsOptions } from './nats-server.js';
export { startNatsCluster } from './nats-cluster.js';
export type { NatsCluster, StartNatsClusterOptions } from './nats-cluster.js';
export { startTcpProxy } from './tcp-proxy.js';
export type { TcpProxy } from './tcp-proxy.js';
export { connectTo, TEST_CONNECTION_DEFAULTS } from './connect.js';
export type { ConnectTarget, TestConnection } from './connect.js';
export { waitFor, Latch, once, deferred } from './wait.js';
export type { Deferred, WaitForOptions } from './wait.js';
export { useSharedNats } from './shared-nats.js';
