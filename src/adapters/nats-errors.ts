/**
 * The one place where NATS failures become parti errors. Adapters call `toPartiError` in every
 * catch; nothing NATS-specific escapes this folder. Classification is by class and server API
 * code, never by message text.
 */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { errors as natsErrors } from '@nats-io/transport-node';
import { KvError, KvUnavailableError, PartiError, RevisionMismatchError } from '../errors.js';

/** "JetStream system temporarily unavailable" and similar server answers carry HTTP-like 503. */
const UNAVAILABLE_STATUS = 503;

/** Server API codes that mean "the write lost a compare-and-set". */
const REVISION_MISMATCH_CODES: ReadonlySet<number> = new Set([
  JetStreamApiCodes.StreamWrongLastSequence, // 10071
  JetStreamApiCodes.StreamWrongLastSequenceUnknown, // 10164
]);

/** JetStream API code for "stream name already in use with a different configuration". */
export const STREAM_NAME_IN_USE = 10058;
/** JetStream API code for "stream not found". */
export const STREAM_NOT_FOUND = JetStreamApiCodes.StreamNotFound; // 10059

/** The JetStream API code of `err` (or of an error in its cause chain), if any. */
export function jetStreamApiCode(err: unknown): number | undefined {
  for (const e of causeChain(err)) {
    if (e instanceof JetStreamApiError) return e.code;
  }
  return undefined;
}

/** True when the connection could not get an answer: retry later may succeed. */
export function isUnavailable(err: unknown): boolean {
  for (const e of causeChain(err)) {
    if (
      e instanceof natsErrors.TimeoutError ||
      e instanceof natsErrors.NoRespondersError ||
      e instanceof natsErrors.ClosedConnectionError ||
      e instanceof natsErrors.DrainingConnectionError ||
      e instanceof natsErrors.ConnectionError
    ) {
      return true;
    }
    if (e instanceof natsErrors.RequestError && e.isNoResponders()) return true;
    if (e instanceof JetStreamApiError && e.status === UNAVAILABLE_STATUS) return true;
  }
  return false;
}

/**
 * Maps any failure of a KV operation to a PartiError (the original is kept as `cause`):
 * wrong-last-sequence (10071/10164) → RevisionMismatchError; timeout, no responders,
 * disconnected, closed or draining connection → KvUnavailableError; anything else → KvError.
 * A PartiError passes through unchanged.
 */
export function toPartiError(err: unknown, operation: string, key?: string): PartiError {
  if (err instanceof PartiError) return err;
  const code = jetStreamApiCode(err);
  if (code !== undefined && REVISION_MISMATCH_CODES.has(code)) {
    return new RevisionMismatchError(key ?? '(unknown)', { cause: err });
  }
  if (isUnavailable(err)) return new KvUnavailableError(operation, { cause: err });
  return new KvError(operation, { cause: err });
}

/** The error and its `cause`s, outermost first (bounded, cycle-safe). */
function* causeChain(err: unknown): Generator<unknown> {
  const seen = new Set<unknown>();
  let e: unknown = err;
  while (e !== undefined && e !== null && !seen.has(e) && seen.size < 8) {
    seen.add(e);
    yield e;
    e = e instanceof Error ? e.cause : undefined;
  }
}
