/**
 * Every error parti-ts throws or reports is a PartiError with a stable string `code`.
 * Match on the class (`instanceof`) or on `code` with `isPartiError(e, code)`, never on
 * message text: messages are for people and may change.
 */

export type PartiErrorCode =
  | 'INVALID_CONFIG'
  | 'ALREADY_STARTED'
  | 'NOT_STARTED'
  | 'ABORTED'
  | 'ID_POOL_EXHAUSTED'
  | 'LEASE_LOST'
  | 'REVISION_MISMATCH'
  | 'KV_UNAVAILABLE'
  | 'KV_ERROR'
  | 'MALFORMED_VALUE'
  | 'STRATEGY_FAILED'
  | 'SOURCE_FAILED'
  | 'NO_WORKERS'
  | 'INVALID_PARTITION'
  | 'HOOK_FAILED'
  | 'TIMEOUT'
  | 'NATS_SERVER_NOT_FOUND';

export interface PartiErrorOptions {
  cause?: unknown;
  /** True when trying the same operation again later may succeed. */
  retriable?: boolean;
}

export class PartiError extends Error {
  readonly code: PartiErrorCode;
  readonly retriable: boolean;

  constructor(code: PartiErrorCode, message: string, options: PartiErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PartiError';
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** True when `e` is a PartiError (and, if given, carries `code`). */
export function isPartiError(e: unknown, code?: PartiErrorCode): e is PartiError {
  return e instanceof PartiError && (code === undefined || e.code === code);
}

/** A configuration value broke a rule. `field` is the dotted path of the offending option. */
export class InvalidConfigError extends PartiError {
  readonly field: string;
  readonly rule: string;
  constructor(field: string, rule: string, options?: PartiErrorOptions) {
    super('INVALID_CONFIG', `invalid config: ${field}: ${rule}`, options);
    this.name = 'InvalidConfigError';
    this.field = field;
    this.rule = rule;
  }
}

/** start() was called while another start() is running or after the manager started. */
export class AlreadyStartedError extends PartiError {
  constructor() {
    super('ALREADY_STARTED', 'manager already started: start() may be called once');
    this.name = 'AlreadyStartedError';
  }
}

/** An operation that needs a started manager was called before start() or after stop(). */
export class NotStartedError extends PartiError {
  constructor(what: string) {
    super('NOT_STARTED', `${what}: manager is not running`);
    this.name = 'NotStartedError';
  }
}

/** start() or waitState() was cancelled through its AbortSignal. `name` is 'AbortError' as for DOM aborts. */
export class AbortError extends PartiError {
  constructor(message = 'operation aborted', options?: PartiErrorOptions) {
    super('ABORTED', message, options);
    this.name = 'AbortError';
  }
}

/** Every ID of the configured pool (`<prefix>-<min>` … `<prefix>-<max>`) is held by a live worker. */
export class IdPoolExhaustedError extends PartiError {
  constructor(prefix: string, min: number, max: number) {
    super('ID_POOL_EXHAUSTED', `no free worker ID in pool ${prefix}-${min}..${prefix}-${max}`, {
      retriable: true,
    });
    this.name = 'IdPoolExhaustedError';
  }
}

/** A lease (stable ID or leadership) is held by someone else now: stop acting on it. */
export class LeaseLostError extends PartiError {
  readonly key: string;
  constructor(key: string, options?: PartiErrorOptions) {
    super('LEASE_LOST', `lease on ${key} was lost`, options);
    this.name = 'LeaseLostError';
    this.key = key;
  }
}

/**
 * A compare-and-set write lost: the key exists (create) or is at another revision (update).
 * Adapters map the server's "wrong last sequence" (JetStream API codes 10071/10164) to this.
 */
export class RevisionMismatchError extends PartiError {
  readonly key: string;
  constructor(key: string, options?: PartiErrorOptions) {
    super('REVISION_MISMATCH', `revision mismatch on key ${key}`, options);
    this.name = 'RevisionMismatchError';
    this.key = key;
  }
}

/** NATS did not answer (disconnected, timeout, no responders). Retriable. */
export class KvUnavailableError extends PartiError {
  constructor(operation: string, options?: PartiErrorOptions) {
    super('KV_UNAVAILABLE', `NATS KV unavailable during ${operation}`, { retriable: true, ...options });
    this.name = 'KvUnavailableError';
  }
}

/** Any other KV failure the adapter cannot classify more precisely. */
export class KvError extends PartiError {
  constructor(operation: string, options?: PartiErrorOptions) {
    super('KV_ERROR', `NATS KV error during ${operation}`, options);
    this.name = 'KvError';
  }
}

/** A value found in KV does not parse. The value is skipped; nothing is overwritten. */
export class MalformedValueError extends PartiError {
  readonly key: string;
  constructor(key: string, detail: string, options?: PartiErrorOptions) {
    super('MALFORMED_VALUE', `malformed value at ${key}: ${detail}`, options);
    this.name = 'MalformedValueError';
    this.key = key;
  }
}

/** The assignment strategy threw or returned an invalid result. */
export class StrategyError extends PartiError {
  constructor(strategy: string, detail: string, options?: PartiErrorOptions) {
    super('STRATEGY_FAILED', `strategy ${strategy} failed: ${detail}`, options);
    this.name = 'StrategyError';
  }
}

/** A strategy was asked to assign with no workers. */
export class NoWorkersError extends PartiError {
  constructor() {
    super('NO_WORKERS', 'no workers available for assignment');
    this.name = 'NoWorkersError';
  }
}

/** A partition is invalid (no keys, bad weight, duplicate id). */
export class InvalidPartitionError extends PartiError {
  constructor(detail: string) {
    super('INVALID_PARTITION', `invalid partition: ${detail}`);
    this.name = 'InvalidPartitionError';
  }
}

/** The partition source threw while listing partitions. */
export class PartitionSourceError extends PartiError {
  constructor(options?: PartiErrorOptions) {
    super('SOURCE_FAILED', 'partition source failed to list partitions', { retriable: true, ...options });
    this.name = 'PartitionSourceError';
  }
}

/** A user hook threw or rejected. Reported to onError and the log; never stops the worker. */
export class HookError extends PartiError {
  readonly hook: string;
  constructor(hook: string, options?: PartiErrorOptions) {
    super('HOOK_FAILED', `hook ${hook} failed`, options);
    this.name = 'HookError';
    this.hook = hook;
  }
}

/** A wait (waitState, a harness condition) passed its deadline. */
export class TimeoutError extends PartiError {
  constructor(what: string, timeoutMs: number) {
    super('TIMEOUT', `timed out after ${timeoutMs} ms waiting for ${what}`, { retriable: true });
    this.name = 'TimeoutError';
  }
}
