/**
 * The heartbeat value. parti-ts writes JSON `{ts, state, leader, version}`; parti Go writes a
 * bare RFC 3339 timestamp. Readers accept both: liveness is the key's presence, the value is
 * for people and `parti-ts status`.
 */

export interface HeartbeatValue {
  /** Unix ms when written. */
  readonly ts: number;
  /** A WorkerState name when written by parti-ts. */
  readonly state?: string;
  readonly leader?: boolean;
  /** Version of the assignment the worker holds. */
  readonly version?: number;
}

export function encodeHeartbeat(v: HeartbeatValue): string {
  return JSON.stringify({ ts: v.ts, state: v.state, leader: v.leader, version: v.version });
}

/** Never throws: a Go timestamp or unparsable text yields `{ ts }` from Date.parse (NaN → 0). */
export function decodeHeartbeat(raw: string): HeartbeatValue {
  if (raw.startsWith('{')) {
    try {
      const o = JSON.parse(raw) as Record<string, unknown>;
      return {
        ts: typeof o.ts === 'number' ? o.ts : 0,
        ...(typeof o.state === 'string' ? { state: o.state } : {}),
        ...(typeof o.leader === 'boolean' ? { leader: o.leader } : {}),
        ...(typeof o.version === 'number' ? { version: o.version } : {}),
      };
    } catch {
      // Not JSON after all: fall through to the timestamp reading, as for a Go value.
    }
  }
  const ts = Date.parse(raw);
  return { ts: Number.isNaN(ts) ? 0 : ts };
}
