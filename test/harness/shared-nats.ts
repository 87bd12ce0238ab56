/**
 * One nats-server for all tests of a file: started in `before`, stopped by PID in `after`
 * (which node:test runs even when tests fail). Returns a getter for use inside tests.
 */
import { after, before } from 'node:test';
import { startNats, type NatsServer, type StartNatsOptions } from './nats-server.js';

export function useSharedNats(options?: StartNatsOptions): () => NatsServer {
  let shared: NatsServer | undefined;
  before(async () => {
    shared = await startNats(options);
  });
  after(async () => {
    await shared?.[Symbol.asyncDispose]();
  });
  return () => {
    if (!shared) throw new Error('shared nats-server not started (useSharedNats must be called at the top of the file)');
    return shared;
  };
}
