/**
 * Claims the lowest free stable worker ID (`<prefix>-<n>`, n = workerIdMin … workerIdMax) with a
 * create-if-absent write. A taken ID is skipped; there is no unconditional-put fallback (parti Go's
 * race, reference §8.9). If the claim is aborted after a key was created, the key is deleted
 * again (fenced by its revision) before rejecting, so an aborted start leaves nothing behind.
 */
import { fromPromise } from 'xstate';
import type { KvBucket } from '../adapters/kv-port.js';
import type { PartiConfig } from '../config.js';
import { AbortError, IdPoolExhaustedError, KvError, PartiError, RevisionMismatchError } from '../errors.js';
import { stableIdValue, workerIdKey } from '../wire/keys.js';
import type { ServiceDeps } from './deps.js';
import { settle } from './timers.js';

export interface StableIdClaim {
  /** The claimed ID, which is also its key: `<prefix>-<n>`. */
  readonly workerId: string;
  /** Revision of the created key: the fence for renewal and release. */
  readonly revision: number;
}

/** The machine passes its config; the claim uses `deps.config` (the same object). */
export interface ClaimStableIdInput {
  readonly config: PartiConfig;
}

/** Bound on the clean-up delete after an aborted claim (NATS may be down). */
const RELEASE_TIMEOUT_MS = 2_000;

function typed(err: unknown, operation: string): Error {
  return err instanceof PartiError ? err : new KvError(operation, { cause: err });
}

function aborted(signal: AbortSignal): AbortError {
  return new AbortError('stable ID claim aborted', { cause: signal.reason });
}

/** The claim itself, usable without XState. Rejects with IdPoolExhaustedError, AbortError or a KV error. */
export async function claimStableId(deps: ServiceDeps, signal: AbortSignal): Promise<StableIdClaim> {
  const { workerIdPrefix: prefix, workerIdMin: min, workerIdMax: max } = deps.config;
  const log = deps.logger.child({ component: 'stable-id' });
  if (signal.aborted) throw aborted(signal);
  let bucket: KvBucket;
  try {
    bucket = (await deps.buckets()).stableId;
  } catch (err) {
    throw typed(err, 'open buckets');
  }
  for (let n = min; n <= max; n++) {
    if (signal.aborted) throw aborted(signal);
    const key = workerIdKey(prefix, n);
    let revision: number;
    try {
      revision = await deps.writes.track(key, bucket.create(key, stableIdValue(deps.now())));
    } catch (err) {
      if (err instanceof RevisionMismatchError) continue;
      throw typed(err, `claim ${key}`);
    }
    if (signal.aborted) {
      // Give the ID back, fenced: only our own write is removed. Registered with the ledger so
      // the Shutdown teardown waits for it and stop() resolves only after the ID is free.
      const release = bucket.delete(key, { revision });
      deps.writes.settling(release);
      deps.writes.forget(key);
      const r = await settle(release, { timeoutMs: RELEASE_TIMEOUT_MS });
      if (r.kind !== 'ok') {
        log.warn({ workerId: key, err: r.kind === 'error' ? r.error : 'timeout' }, 'could not release ID after abort');
      }
      throw aborted(signal);
    }
    log.info({ workerId: key, revision }, 'claimed stable ID');
    return { workerId: key, revision };
  }
  throw new IdPoolExhaustedError(prefix, min, max);
}

/** Actor logic: `fromPromise`, no input, output StableIdClaim. */
export function createClaimStableId(deps: ServiceDeps) {
  return fromPromise<StableIdClaim, ClaimStableIdInput>(({ signal }) => claimStableId(deps, signal));
}
