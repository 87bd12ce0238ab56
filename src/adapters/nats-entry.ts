/**
 * How a KV message on the wire becomes a parti KvEntry: the operation comes from the
 * `KV-Operation` header (DEL/PURGE written by clients) or from a server-written subject delete
 * marker (`Nats-Marker-Reason`, nats-server >= 2.11), which is a PURGE; reason `MaxAge` means
 * the key expired.
 */
import type { JsMsg } from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/transport-node';
import type { KvEntry, KvOperation } from './kv-port.js';

export const KV_OPERATION_HEADER = 'KV-Operation';
export const MARKER_REASON_HEADER = 'Nats-Marker-Reason';
export const MARKER_REASON_MAX_AGE = 'MaxAge';

/** Stream and subject names of a bucket, as the NATS KV convention lays them out. */
export interface BucketNames {
  readonly bucket: string;
  /** `KV_<bucket>` */
  readonly stream: string;
  /** `$KV.<bucket>.` — prepend to a key to get its subject. */
  readonly subjectPrefix: string;
}

export function bucketNames(bucket: string): BucketNames {
  return { bucket, stream: `KV_${bucket}`, subjectPrefix: `$KV.${bucket}.` };
}

/** Operation and expiry of a message, from its headers. */
export function classify(headers: MsgHdrs | undefined): { operation: KvOperation; expired: boolean } {
  const reason = headers?.get(MARKER_REASON_HEADER) ?? '';
  if (reason !== '') return { operation: 'PURGE', expired: reason === MARKER_REASON_MAX_AGE };
  const op = headers?.get(KV_OPERATION_HEADER) ?? '';
  if (op === 'DEL' || op === 'PURGE') return { operation: op, expired: false };
  return { operation: 'PUT', expired: false };
}

/** A delivered KV message as a KvEntry (value decoded as UTF-8; empty for tombstones). */
export function entryFromMessage(m: JsMsg, names: BucketNames): KvEntry {
  const { operation, expired } = classify(m.headers);
  return {
    key: m.subject.startsWith(names.subjectPrefix) ? m.subject.slice(names.subjectPrefix.length) : m.subject,
    value: operation === 'PUT' ? m.string() : '',
    revision: m.seq,
    operation,
    expired,
    created: m.time,
  };
}
