/** Key names in the four buckets, as parti Go writes them (hard-coded there too). */

export const LEADER_KEY = 'leader';
export const HEARTBEAT_PREFIX = 'heartbeat.';
export const ASSIGNMENT_PREFIX = 'assignment.';

export const heartbeatKey = (workerId: string): string => `${HEARTBEAT_PREFIX}${workerId}`;
export const assignmentKey = (workerId: string): string => `${ASSIGNMENT_PREFIX}${workerId}`;
export const workerIdKey = (prefix: string, n: number): string => `${prefix}-${n}`;

/** Worker ID of a `heartbeat.<id>` / `assignment.<id>` key, or undefined for other keys. */
export function workerIdOf(key: string, prefix: string): string | undefined {
  return key.startsWith(prefix) && key.length > prefix.length ? key.slice(prefix.length) : undefined;
}

/** Value of the `leader` key: `<workerId>:<unix seconds>` (informational; ownership is the revision). */
export const leaderValue = (workerId: string, nowMs: number): string => `${workerId}:${Math.floor(nowMs / 1000)}`;

/** Stable-ID value: a second-precision RFC 3339 timestamp, as parti Go writes (informational). */
export const stableIdValue = (nowMs: number): string => new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
