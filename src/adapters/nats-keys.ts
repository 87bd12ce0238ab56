/**
 * Live keys of a bucket. Not `kv.keys()`: that call skips only keys whose last message carries a
 * `KV-Operation` DEL/PURGE header, so a key expired by a subject delete marker (nats-server
 * >= 2.11) is still listed until the marker itself ages out. Here every tombstone, markers
 * included, counts as absent.
 *
 * One headers-only ordered consumer (last message per subject), read until the pending count
 * at creation has been delivered; an idle check asks the server for the remaining count, so a
 * message that expires during the listing cannot make it hang.
 */
import { DeliverPolicy } from '@nats-io/jetstream';
import type { ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../types.js';
import { classify, type BucketNames } from './nats-entry.js';
import { discardConsumer } from './nats-watch.js';

export interface KeysContext {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly names: BucketNames;
  readonly logger: Logger;
}

const IDLE_CHECK_MS = 250;

export async function listKeys(ctx: KeysContext, filter: string): Promise<string[]> {
  const consumer = await ctx.js.consumers.getPushConsumer(ctx.names.stream, {
    filter_subjects: ctx.names.subjectPrefix + filter,
    deliver_policy: DeliverPolicy.LastPerSubject,
    headers_only: true,
  });
  let messages: ConsumerMessages | undefined;
  let idle: ReturnType<typeof setTimeout> | undefined;
  let settled = false;
  try {
    const info = await consumer.info(true);
    if (info.num_pending === 0) return [];
    const live = new Map<string, boolean>();
    await new Promise<void>((resolve, reject) => {
      let left = info.num_pending;
      let lastSeq = 0;
      const finish = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        if (err === undefined) resolve();
        else reject(err instanceof Error ? err : new Error('key listing failed', { cause: err }));
      };
      const armIdleCheck = (): void => {
        if (idle !== undefined) clearTimeout(idle);
        if (settled) return;
        idle = setTimeout(() => {
          consumer.info().then(
            // done when nothing is pending AND everything delivered has reached us
            (ci) => (ci.num_pending === 0 && ci.delivered.stream_seq <= lastSeq ? finish() : armIdleCheck()),
            (err: unknown) => finish(err),
          );
        }, IDLE_CHECK_MS);
      };
      const onMessage = (m: JsMsg): void => {
        if (settled) return;
        live.set(m.subject.slice(ctx.names.subjectPrefix.length), classify(m.headers).operation === 'PUT');
        lastSeq = Math.max(lastSeq, m.seq);
        left--;
        if (left <= 0 || m.info.pending === 0) finish();
        else armIdleCheck();
      };
      consumer.consume({ callback: onMessage }).then(
        (ms) => {
          messages = ms;
          if (settled) {
            ms.stop();
            return;
          }
          armIdleCheck();
          ms.closed().then(
            (err) => finish(err ?? new Error('key listing ended early')),
            (err: unknown) => finish(err),
          );
        },
        (err: unknown) => finish(err),
      );
    });
    return [...live]
      .filter(([, isLive]) => isLive)
      .map(([key]) => key)
      .sort();
  } finally {
    settled = true;
    if (idle !== undefined) clearTimeout(idle);
    messages?.stop();
    discardConsumer(ctx, consumer);
  }
}
