/**
 * What the connected nats-server can do, derived once from the version it reports in INFO.
 * Pure functions: no I/O, no NATS imports.
 */
import type { ServerFeatures } from './kv-port.js';

export interface SemVer {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

/** Subject delete markers and per-message TTL arrived in nats-server 2.11.0. */
export const EXPIRY_MARKERS_MIN: SemVer = { major: 2, minor: 11, patch: 0 };

/**
 * Parses "2.10.18", "v2.11.0-RC.1", "2.12.0-beta" into numbers. Returns null when the text does
 * not start with `major.minor`. A pre-release counts as its release (2.11.0-RC.1 has markers).
 */
export function parseServerVersion(version: string): SemVer | null {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(version.trim());
  if (m === null) return null;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? '0') };
}

/** a < b: negative, a == b: 0, a > b: positive. */
export function compareVersions(a: SemVer, b: SemVer): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/** True when `version` parses and is >= `min`; an unparsable version has no optional features. */
export function versionAtLeast(version: string, min: SemVer): boolean {
  const v = parseServerVersion(version);
  return v !== null && compareVersions(v, min) >= 0;
}

/** Feature flags for a server version string as reported by `nc.info.version`. */
export function serverFeatures(version: string): ServerFeatures {
  return { version, expiryMarkers: versionAtLeast(version, EXPIRY_MARKERS_MIN) };
}
