// A TCP proxy on loopback for network-failure tests: clients connect to the proxy, which
// forwards to the target. `cut()` drops every open connection and refuses new ones until
// `restore()`; the server behind it never notices anything but closed sockets.
import { connect, createServer, type Socket } from 'node:net';
import { endpointGone, endpointUp } from './connect.js';

export interface TcpProxy extends AsyncDisposable {
  readonly port: number;
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  /** Number of proxied connections open now. */
  readonly connections: number;
  /** Destroys all open connections and refuses new ones (accepted, then closed at once). */
  cut(): void;
  /** Lets new connections through again. */
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  const host = target.host ?? '127.0.0.1';
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  let isCut = false;

  const server = createServer((client) => {
    client.on('error', () => {}); // resets are expected here; the pair is torn down on 'close'
    if (isCut) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, host);
    upstream.on('error', () => {});
    const pair = { client, upstream };
    pairs.add(pair);
    const teardown = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.once('close', teardown);
    upstream.once('close', teardown);
    client.pipe(upstream);
    upstream.pipe(client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  // A forgotten proxy must not keep the test process alive (open connections still do).
  server.unref();
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('tcp proxy: no TCP address');
  const port = addr.port;

  const dropAll = (): void => {
    for (const { client, upstream } of pairs) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  };

  const url = `nats://127.0.0.1:${port}`;
  endpointUp(url);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await endpointGone(url);
      await new Promise<void>((resolve) => {
        isCut = true;
        server.close(() => resolve());
        dropAll();
      });
    })();
    return closing;
  };

  return {
    port,
    url,
    get connections() {
      return pairs.size;
    },
    cut() {
      isCut = true;
      dropAll();
    },
    restore() {
      isCut = false;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
