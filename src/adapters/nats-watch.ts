/**
 * A KV watch as an Observable<KvWatchEvent>.
 *
 * Built on an ordered push consumer (the same machinery `kv.watch()` uses) rather than on
 * `kv.watch()`, because parti needs three things that call does not expose: the initial
 * pending count (to emit 'caught-up' even for an empty replay), the message headers (to tell a
 * server expiry marker from a client purge) and the consumer itself (to delete it on teardown
 * instead of leaving it on the server for its 5 min inactivity threshold).
 *
 * Lifetime rules:
 * - Unsubscribing stops the consumer's subscription at once (no waiting for a next message, the
 *   trap of rxjs `from(asyncIterable)`); a consumer whose creation resolves after unsubscribe is
 *   stopped and deleted as soon as it arrives.
 * - A failure, or the consumer ending while subscribed, resubscribes with exponential backoff
 *   (100 ms doubling to 5 s) resuming at `last delivered revision + 1`. A reconnect of the
 *   connection also resubscribes that way, so a consumer lost by the server does not stall the
 *   watch until the client's 2 x 30 s heartbeat check notices.
 * - Known limit: the server does not tell a push consumer that it was deleted (no 409 status
 *   arrives), so a consumer lost WITHOUT a reconnect of this connection (e.g. the cluster node
 *   holding it died, or an operator deleted it) is only recreated by the client after two missed
 *   idle heartbeats (2 x 30 s, fixed by `getPushConsumer`).
 * - Entries are emitted once (deduplicated by revision); 'caught-up' is emitted once.
 * - When the connection is closed the Observable errors with KvUnavailableError.
 */
import { Observable, type Subscriber, type Subscription } from 'rxjs';
import { DeliverPolicy } from '@nats-io/jetstream';
import type {
  ConsumerMessages,
  JetStreamClient,
  JsMsg,
  OrderedPushConsumerOptions,
  PushConsumer,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { KvUnavailableError } from '../errors.js';
import type { Logger } from '../types.js';
import { assertValidFilter } from './key-pattern.js';
import type { ConnectionStatus, KvWatchEvent, KvWatchOptions } from './kv-port.js';
import { entryFromMessage, type BucketNames } from './nats-entry.js';
import { toPartiError } from './nats-errors.js';

export interface WatchContext {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly names: BucketNames;
  readonly logger: Logger;
  /** Connection status, used to resubscribe after a reconnect. */
  readonly status$: Observable<ConnectionStatus>;
}

export interface WatchBackoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_WATCH_BACKOFF: WatchBackoff = { initialMs: 100, maxMs: 5_000 };

export function watchKv(
  ctx: WatchContext,
  options: KvWatchOptions,
  backoff: WatchBackoff = DEFAULT_WATCH_BACKOFF,
): Observable<KvWatchEvent> {
  return new Observable<KvWatchEvent>((subscriber) => {
    try {
      assertValidFilter(options.key, 'watch');
    } catch (err) {
      subscriber.error(err);
      return undefined;
    }
    const session = new WatchSession(ctx, options, backoff, subscriber);
    session.start();
    return () => session.close();
  });
}

/** Best-effort removal of a consumer we no longer use; failures are only logged. */
export function discardConsumer(ctx: { nc: NatsConnection; logger: Logger }, consumer: PushConsumer): void {
  if (ctx.nc.isClosed()) return;
  consumer.delete().then(
    () => undefined,
    (err: unknown) => ctx.logger.debug({ err }, 'kv: could not delete a finished consumer (it expires on its own)'),
  );
}

interface Active {
  readonly consumer: PushConsumer;
  messages?: ConsumerMessages;
}

/** One subscription of a watch: owns the current consumer, the retry timer and the dedupe state. */
class WatchSession {
  /** Bumped on every (re)subscription and on close; callbacks of older generations are ignored. */
  private gen = 0;
  private closed = false;
  /** Highest revision delivered to the subscriber. */
  private last = 0;
  /**
   * Where a resubscription resumes (after this stream sequence): the last delivered revision, or
   * for updatesOnly before any delivery the stream's last sequence when the watch started.
   * Undefined: no position yet (replay again).
   */
  private resumeAfter: number | undefined;
  private caughtUp = false;
  /** Initial-replay messages still expected from the current consumer. */
  private replayLeft = 0;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private active: Active | undefined;
  private statusSub: Subscription | undefined;
  private readonly log: Logger;

  constructor(
    private readonly ctx: WatchContext,
    private readonly options: KvWatchOptions,
    private readonly backoff: WatchBackoff,
    private readonly subscriber: Subscriber<KvWatchEvent>,
  ) {
    this.log = ctx.logger.child({ bucket: ctx.names.bucket, watch: options.key });
  }

  start(): void {
    this.statusSub = this.ctx.status$.subscribe((s) => {
      if (this.closed) return;
      if (s.type === 'reconnect' && this.retryTimer === undefined) {
        this.log.debug({}, 'kv watch: reconnected, resubscribing');
        this.attempt = 0;
        this.subscribe();
      } else if (s.type === 'close') {
        this.terminate(new Error('connection closed'));
      }
    });
    this.subscribe();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.gen++;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.stopActive();
    this.statusSub?.unsubscribe();
    this.statusSub = undefined;
  }

  private subscribe(): void {
    this.stopActive();
    const gen = ++this.gen;
    this.open(gen).catch((err: unknown) => this.fail(gen, err));
  }

  private consumerOptions(): Partial<OrderedPushConsumerOptions> {
    const opts: Partial<OrderedPushConsumerOptions> = {
      filter_subjects: this.ctx.names.subjectPrefix + this.options.key,
      headers_only: false,
    };
    if (this.resumeAfter !== undefined) {
      opts.opt_start_seq = this.resumeAfter + 1;
      opts.deliver_policy = DeliverPolicy.StartSequence;
    } else {
      opts.deliver_policy = this.options.updatesOnly === true ? DeliverPolicy.New : DeliverPolicy.LastPerSubject;
    }
    return opts;
  }

  private async open(gen: number): Promise<void> {
    const consumer = await this.ctx.js.consumers.getPushConsumer(this.ctx.names.stream, this.consumerOptions());
    if (gen !== this.gen) {
      discardConsumer(this.ctx, consumer);
      return;
    }
    const active: Active = { consumer };
    this.active = active;
    const info = await consumer.info(true); // cached: the info returned by the create call
    if (gen !== this.gen) return; // stopActive() already discarded it
    if (this.options.updatesOnly === true && this.resumeAfter === undefined) {
      this.resumeAfter = info.delivered.stream_seq;
    }
    this.replayLeft = this.caughtUp ? 0 : info.num_pending;
    if (!this.caughtUp && (this.options.updatesOnly === true || this.replayLeft === 0)) this.markCaughtUp();
    if (gen !== this.gen) return;
    const messages = await consumer.consume({ callback: (m) => this.onMessage(gen, m) });
    if (gen !== this.gen) {
      messages.stop();
      return;
    }
    active.messages = messages;
    messages.closed().then(
      (err) => this.onEnded(gen, err),
      (err: unknown) => this.onEnded(gen, err),
    );
  }

  private onMessage(gen: number, m: JsMsg): void {
    if (gen !== this.gen) return;
    this.attempt = 0;
    if (m.seq > this.last) {
      this.last = m.seq;
      this.resumeAfter = m.seq;
      const entry = entryFromMessage(m, this.ctx.names);
      this.subscriber.next({ kind: 'entry', entry, isUpdate: this.caughtUp });
    }
    if (!this.caughtUp && gen === this.gen) {
      this.replayLeft--;
      if (this.replayLeft <= 0 || m.info.pending === 0) this.markCaughtUp();
    }
  }

  private markCaughtUp(): void {
    this.caughtUp = true;
    if (!this.closed) this.subscriber.next({ kind: 'caught-up' });
  }

  private onEnded(gen: number, err: unknown): void {
    if (gen !== this.gen) return;
    this.fail(gen, err instanceof Error ? err : new Error('kv watch consumer ended unexpectedly'));
  }

  private fail(gen: number, err: unknown): void {
    if (gen !== this.gen || this.closed) return;
    this.stopActive();
    this.gen++;
    if (this.ctx.nc.isClosed()) {
      this.terminate(err);
      return;
    }
    const delay = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** this.attempt);
    this.attempt++;
    this.log.warn(
      { err: toPartiError(err, 'watch'), retryInMs: delay, resumeFrom: this.last + 1 },
      'kv watch failed, resubscribing',
    );
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.closed) this.subscribe();
    }, delay);
  }

  /** The connection is closed for good: no retry can succeed. */
  private terminate(cause: unknown): void {
    if (this.closed) return;
    this.close();
    this.subscriber.error(new KvUnavailableError('watch', { cause }));
  }

  private stopActive(): void {
    const active = this.active;
    this.active = undefined;
    if (active === undefined) return;
    active.messages?.stop();
    discardConsumer(this.ctx, active.consumer);
  }
}
