/**
 * The KV port on NATS JetStream KV (@nats-io/kv v3).
 *
 * - `openBucket` binds to an existing bucket whatever its config, otherwise creates it (history
 *   1, file storage, bucket TTL, replicas, and subject delete markers when asked for and the
 *   server has them). A creation race (another process created it first, possibly with another
 *   config: API code 10058) counts as "exists".
 * - `expiryObservable` is read back from the stream config on the server, never assumed:
 *   nats-server 2.10 silently ignores `markerTTL`, and an existing bucket may lack markers.
 * - Every failure leaves through `toPartiError` (nats-errors.ts).
 */
import { Observable } from 'rxjs';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager, StreamInfo } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { KV, KvOptions } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { KvUnavailableError, RevisionMismatchError } from '../errors.js';
import type { Logger } from '../types.js';
import { assertValidBucketName, assertValidFilter, assertValidKey } from './key-pattern.js';
import type {
  ConnectionStatus,
  KvBucket,
  KvBucketSpec,
  KvEntry,
  KvStore,
  KvWatchEvent,
  KvWatchOptions,
  ServerFeatures,
} from './kv-port.js';
import { bucketNames, type BucketNames } from './nats-entry.js';
import { jetStreamApiCode, STREAM_NAME_IN_USE, STREAM_NOT_FOUND, toPartiError } from './nats-errors.js';
import { listKeys } from './nats-keys.js';
import { sharedConnectionStatus$ } from './nats-status.js';
import { watchKv, type WatchBackoff } from './nats-watch.js';
import { serverFeatures } from './server-features.js';
import { silentLogger } from '../logger.js';

export interface NatsKvStoreOptions {
  /** pino-compatible logger; nothing is logged when absent. */
  readonly logger?: Logger;
  /** Timeout of each JetStream API request in ms (default: the client's). */
  readonly requestTimeoutMs?: number;
  /** Resubscribe backoff of watches (default 100 ms doubling to 5 s). */
  readonly watchBackoff?: WatchBackoff;
}

/** Subject delete markers live at least this long (the server's minimum is 1 s). */
const MIN_MARKER_TTL_MS = 1_000;

/**
 * Creates the NATS implementation of the KV port on an open connection. The connection stays
 * the caller's: the store never closes it. Rejects with KvUnavailableError when the connection
 * is closed.
 */
export async function createNatsKvStore(nc: NatsConnection, opts: NatsKvStoreOptions = {}): Promise<KvStore> {
  const version = nc.info?.version;
  if (nc.isClosed() || version === undefined) {
    throw new KvUnavailableError('createNatsKvStore', { cause: new Error('connection is closed') });
  }
  const jsOpts = opts.requestTimeoutMs === undefined ? {} : { timeout: opts.requestTimeoutMs };
  const js = jetstream(nc, jsOpts);
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc, jsOpts);
  } catch (err) {
    throw toPartiError(err, 'createNatsKvStore');
  }
  return new NatsKvStore(nc, js, jsm, serverFeatures(version), opts);
}

class NatsKvStore implements KvStore {
  readonly status$: Observable<ConnectionStatus>;
  private readonly kvm: Kvm;
  private readonly logger: Logger;

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly features: ServerFeatures,
    private readonly opts: NatsKvStoreOptions,
  ) {
    this.kvm = new Kvm(js);
    this.logger = (opts.logger ?? silentLogger).child({ component: 'kv' });
    this.status$ = sharedConnectionStatus$(nc);
  }

  async openBucket(spec: KvBucketSpec): Promise<KvBucket> {
    assertValidBucketName(spec.name, 'openBucket');
    const names = bucketNames(spec.name);
    const log = this.logger.child({ bucket: spec.name });
    try {
      let info = await this.streamInfo(names.stream);
      if (info === null) {
        info = await this.createBucket(spec, names, log);
      } else {
        log.debug({ ttlMs: nanosToMs(info.config.max_age) }, 'kv: bound to existing bucket');
      }
      const kv = await this.kvm.open(spec.name);
      const markers =
        this.features.expiryMarkers &&
        info.config.allow_msg_ttl === true &&
        (info.config.subject_delete_marker_ttl ?? 0) > 0;
      if (spec.expiryMarkers === true && this.features.expiryMarkers && !markers) {
        log.warn({}, 'kv: bucket exists without subject delete markers; key expiry is not observable on watches');
      }
      return new NatsKvBucket(
        { nc: this.nc, js: this.js, names, logger: log, status$: this.status$ },
        kv,
        markers,
        this.opts.watchBackoff,
      );
    } catch (err) {
      throw toPartiError(err, 'openBucket');
    }
  }

  private async streamInfo(stream: string): Promise<StreamInfo | null> {
    try {
      return await this.jsm.streams.info(stream);
    } catch (err) {
      if (jetStreamApiCode(err) === STREAM_NOT_FOUND) return null;
      throw err;
    }
  }

  private async createBucket(spec: KvBucketSpec, names: BucketNames, log: Logger): Promise<StreamInfo> {
    const options: Partial<KvOptions> = {
      history: 1,
      storage: StorageType.File,
      replicas: spec.replicas ?? 1,
    };
    if (spec.ttlMs > 0) options.ttl = spec.ttlMs;
    if (spec.expiryMarkers === true && this.features.expiryMarkers) {
      options.markerTTL = Math.max(MIN_MARKER_TTL_MS, spec.ttlMs);
    }
    try {
      const kv = await this.kvm.create(spec.name, options);
      const status = await kv.status();
      log.debug({ ttlMs: spec.ttlMs, markerTtlMs: status.markerTTL }, 'kv: created bucket');
      return status.streamInfo;
    } catch (err) {
      // Lost a creation race against a different config: the bucket exists, bind to it.
      if (jetStreamApiCode(err) === STREAM_NAME_IN_USE) {
        const info = await this.streamInfo(names.stream);
        if (info !== null) {
          log.debug({}, 'kv: bucket created concurrently by another process; binding');
          return info;
        }
      }
      throw err;
    }
  }
}

interface BucketContext {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly names: BucketNames;
  readonly logger: Logger;
  readonly status$: Observable<ConnectionStatus>;
}

class NatsKvBucket implements KvBucket {
  readonly name: string;

  constructor(
    private readonly ctx: BucketContext,
    private readonly kv: KV,
    readonly expiryObservable: boolean,
    private readonly watchBackoff: WatchBackoff | undefined,
  ) {
    this.name = ctx.names.bucket;
  }

  async get(key: string): Promise<KvEntry | null> {
    assertValidKey(key, 'get');
    try {
      const e = await this.kv.get(key);
      if (e === null || e.operation !== 'PUT') return null;
      return {
        key: e.key,
        value: e.string(),
        revision: e.revision,
        operation: 'PUT',
        expired: false,
        created: e.created,
      };
    } catch (err) {
      throw toPartiError(err, 'get', key);
    }
  }

  async create(key: string, value: string): Promise<number> {
    assertValidKey(key, 'create');
    try {
      return await this.kv.create(key, value);
    } catch (err) {
      throw toPartiError(err, 'create', key);
    }
  }

  async update(key: string, value: string, revision: number): Promise<number> {
    assertValidKey(key, 'update');
    // No live key is ever at revision <= 0; the client would throw a plain Error for it.
    if (!(revision > 0)) throw new RevisionMismatchError(key);
    try {
      return await this.kv.update(key, value, revision);
    } catch (err) {
      throw toPartiError(err, 'update', key);
    }
  }

  async put(key: string, value: string): Promise<number> {
    assertValidKey(key, 'put');
    try {
      return await this.kv.put(key, value);
    } catch (err) {
      throw toPartiError(err, 'put', key);
    }
  }

  async delete(key: string, options?: { readonly revision?: number }): Promise<void> {
    assertValidKey(key, 'delete');
    const revision = options?.revision;
    // The client ignores previousSeq 0 (unconditional delete); parti treats it as a mismatch.
    if (revision !== undefined && !(revision > 0)) throw new RevisionMismatchError(key);
    try {
      await this.kv.delete(key, revision === undefined ? undefined : { previousSeq: revision });
    } catch (err) {
      throw toPartiError(err, 'delete', key);
    }
  }

  async keys(filter = '>'): Promise<string[]> {
    assertValidFilter(filter, 'keys');
    try {
      return await listKeys(this.ctx, filter);
    } catch (err) {
      throw toPartiError(err, 'keys');
    }
  }

  watch(options: KvWatchOptions): Observable<KvWatchEvent> {
    return watchKv(this.ctx, options, this.watchBackoff);
  }
}

function nanosToMs(n: number | undefined): number {
  return n === undefined ? 0 : Math.round(n / 1_000_000);
}
