/**
 * KV key and filter syntax shared by both adapters, so the in-memory store accepts and matches
 * exactly what NATS does. Keys are dot-separated tokens; filters may use `*` (one token) and
 * `>` (one or more trailing tokens).
 */
import { KvError } from '../errors.js';

const KEY_RE = /^[-/=.\w]+$/;
const BUCKET_RE = /^[-\w]+$/;
const FILTER_RE = /^[-/=.>*\w]+$/;

function hasEmptyToken(s: string): boolean {
  return s.startsWith('.') || s.endsWith('.') || s.includes('..');
}

export function isValidKey(key: string): boolean {
  return KEY_RE.test(key) && !hasEmptyToken(key);
}

export function isValidFilter(filter: string): boolean {
  if (!FILTER_RE.test(filter) || hasEmptyToken(filter)) return false;
  const tokens = filter.split('.');
  return tokens.every(
    (t, i) =>
      (!t.includes('*') || t === '*') && (!t.includes('>') || (t === '>' && i === tokens.length - 1)),
  );
}

/** Throws KvError when `name` is not a valid bucket name (letters, digits, `_`, `-`). */
export function assertValidBucketName(name: string, operation: string): void {
  if (!BUCKET_RE.test(name)) {
    throw new KvError(operation, { cause: new Error(`invalid bucket name: ${JSON.stringify(name)}`) });
  }
}

/** Throws KvError when `key` is not a literal KV key (wildcards are not keys). */
export function assertValidKey(key: string, operation: string): void {
  if (!isValidKey(key)) {
    throw new KvError(operation, { cause: new Error(`invalid key: ${JSON.stringify(key)}`) });
  }
}

/** Throws KvError when `filter` is not a valid key or wildcard pattern. */
export function assertValidFilter(filter: string, operation: string): void {
  if (!isValidFilter(filter)) {
    throw new KvError(operation, { cause: new Error(`invalid key filter: ${JSON.stringify(filter)}`) });
  }
}

/** NATS subject matching of a literal key against a filter with `*` and `>`. */
export function keyMatches(filter: string, key: string): boolean {
  const f = filter.split('.');
  const k = key.split('.');
  for (let i = 0; i < f.length; i++) {
    const t = f[i];
    if (t === '>') return k.length > i;
    if (i >= k.length) return false;
    if (t !== '*' && t !== k[i]) return false;
  }
  return f.length === k.length;
}
