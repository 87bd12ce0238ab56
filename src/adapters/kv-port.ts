/**
 * The KV port: everything parti-ts needs from a key-value store, stated in parti's terms.
 * Services depend on this interface only; `nats-kv.ts` implements it on NATS JetStream KV and
 * an in-memory implementation serves unit tests. Both pass test/unit/kv-conformance.
 *
 * Conventions:
 * - Values are UTF-8 strings (every parti value is text or JSON).
 * - A DEL or PURGE tombstone is "absent": `get` returns null for it and `create` succeeds over it.
 * - Compare-and-set failures throw RevisionMismatchError; connectivity failures throw
 *   KvUnavailableError; nothing NATS-specific escapes an adapter.
 */
import type { Observable } from 'rxjs';

export type KvOperation = 'PUT' | 'DEL' | 'PURGE';

export interface KvEntry {
  readonly key: string;
  readonly value: string;
  /** Stream sequence of this entry; the revision to pass to `update`. */
  readonly revision: number;
  readonly operation: KvOperation;
  /**
   * True for a PURGE written by the server because the key's age passed the bucket TTL
   * (a subject delete marker, nats-server >= 2.11). False for client deletes and purges.
   */
  readonly expired: boolean;
  /** Server timestamp of the entry. */
  readonly created: Date;
}

/** One item of a watch: an entry (initial replay or live) or the marker that the replay is done. */
export type KvWatchEvent =
  | { readonly kind: 'entry'; readonly entry: KvEntry; readonly isUpdate: boolean }
  | { readonly kind: 'caught-up' };

export interface KvWatchOptions {
  /** Exact key or a NATS wildcard pattern (`heartbeat.*`, `assignment.>`). */
  readonly key: string;
  /** Only live changes, no initial replay (a 'caught-up' marker is still emitted first). */
  readonly updatesOnly?: boolean;
}

export interface KvBucketSpec {
  readonly name: string;
  /** Bucket TTL (stream MaxAge) in ms; 0 = no TTL. */
  readonly ttlMs: number;
  /** Replicas (1 by default; 3 recommended on a cluster). */
  readonly replicas?: number;
  /**
   * Ask the server to write a PURGE marker when a key expires, so watchers see expiry
   * (subject delete markers). Applied only when the server supports it (>= 2.11).
   */
  readonly expiryMarkers?: boolean;
}

export interface KvBucket {
  readonly name: string;
  /**
   * Whether expiry of a key arrives on a watch as a PURGE with `expired: true`. False on
   * servers without subject delete markers (2.10), or when the bucket was created without
   * them: callers then detect expiry by listing keys periodically.
   */
  readonly expiryObservable: boolean;
  /** The live entry, or null when the key is absent, deleted, purged or expired. */
  get(key: string): Promise<KvEntry | null>;
  /** Write only if the key is absent (a tombstone counts as absent). Returns the new revision. */
  create(key: string, value: string): Promise<number>;
  /** Write only if the key is at `revision`. Returns the new revision. */
  update(key: string, value: string, revision: number): Promise<number>;
  /** Unconditional write. Returns the new revision. */
  put(key: string, value: string): Promise<number>;
  /** Soft delete (DEL tombstone). With `revision`, only if the key is still at that revision. */
  delete(key: string, options?: { readonly revision?: number }): Promise<void>;
  /** Live keys, optionally filtered by a NATS wildcard pattern. Empty array when none. */
  keys(filter?: string): Promise<string[]>;
  /**
   * Changes to matching keys as a cold Observable. Subscribing starts a watch; unsubscribing
   * stops it at once (server-side subscription released). After a transient failure the watch
   * resubscribes with backoff and resumes after the last revision it delivered.
   * Revisions arrive in ascending order, each at most once. A watch tracks the latest state per
   * key, not every write: on a history-1 bucket a revision overwritten before it was delivered
   * can be skipped (the server already dropped it), so consumers must act on state, not count writes.
   */
  watch(options: KvWatchOptions): Observable<KvWatchEvent>;
}

export type ConnectionStatus =
  | { readonly type: 'disconnect' }
  | { readonly type: 'reconnecting' }
  | { readonly type: 'reconnect' }
  | { readonly type: 'error'; readonly error: Error }
  | { readonly type: 'close' }
  | { readonly type: 'other'; readonly detail: string };

export interface ServerFeatures {
  /** e.g. "2.10.18" */
  readonly version: string;
  /** Subject delete markers / per-message TTL (>= 2.11). */
  readonly expiryMarkers: boolean;
}

export interface KvStore {
  readonly features: ServerFeatures;
  /** Open the bucket if it exists (whatever its config), otherwise create it. A creation race counts as exists. */
  openBucket(spec: KvBucketSpec): Promise<KvBucket>;
  /** Connection status changes, hot. Completes when the connection closes. */
  readonly status$: Observable<ConnectionStatus>;
}
