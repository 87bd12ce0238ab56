/**
 * Hashing and ordering helpers shared by the strategies. Byte-for-byte the parti Go library:
 * XXH3-64 (`@node-rs/xxhash`, the reference C implementation) over UTF-8 bytes, partition hashes
 * chained over the keys, byte-wise (UTF-8) string order. Pure; no I/O.
 * @internal
 */
import { xxh3 } from '@node-rs/xxhash';
import type { Partition } from '../types.js';

/** 2^64 − 1: the largest valid seed. */
const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** XXH3-64 of the UTF-8 bytes of `s` (or of `bytes`) with `seed`. Seed 0 equals the unseeded hash. */
export function xxh3Hash(input: string | Uint8Array, seed: bigint = 0n): bigint {
  return xxh3.xxh64(input, seed);
}

/**
 * Go `Partition.HashIDSeed(seed)`: h = XXH3(key0, seed); h = XXH3(key_i, h) for the next keys.
 * Go's quirks (seed 0 → unseeded; restart unseeded when the running hash is 0) are no-ops here
 * because XXH3 with seed 0 is defined to equal the unseeded XXH3. Callers validate `keys.length ≥ 1`.
 */
export function partitionHash(p: Partition, seed: bigint = 0n): bigint {
  let h = seed;
  for (const key of p.keys) h = xxh3.xxh64(key, h);
  return h;
}

/** The 8-byte little-endian encoding of every vnode index 0 … n−1, computed once and shared. */
const vnodeKeys: Uint8Array[] = [];
function vnodeKey(i: number): Uint8Array {
  let k = vnodeKeys[i];
  if (k === undefined) {
    k = new Uint8Array(8);
    new DataView(k.buffer).setBigUint64(0, BigInt(i), true);
    vnodeKeys[i] = k;
  }
  return k;
}

/** Go ring vnode position: XXH3(LE64(i), seed = XXH3(workerId, ringSeed)). */
export function vnodeHash(index: number, workerBase: bigint): bigint {
  return xxh3.xxh64(vnodeKey(index), workerBase);
}

const splitView = new DataView(new ArrayBuffer(8));
/** Splits an unsigned 64-bit value into [hi, lo] uint32 halves (exact; compares as the bigint does). */
export function splitU64(h: bigint): [hi: number, lo: number] {
  splitView.setBigUint64(0, h, true);
  return [splitView.getUint32(4, true), splitView.getUint32(0, true)];
}

/** Normalises a seed option to a uint64 bigint, or undefined when it is not one. */
export function toU64(seed: number | bigint): bigint | undefined {
  if (typeof seed === 'bigint') return seed >= 0n && seed <= U64_MAX ? seed : undefined;
  return Number.isSafeInteger(seed) && seed >= 0 ? BigInt(seed) : undefined;
}

/**
 * Go string order: byte-wise over UTF-8. Equals code-point order, which differs from JS `<`
 * (UTF-16 code units) only between astral characters and U+E000…U+FFFF.
 */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      if (x < 0xd800 && y < 0xd800) return x - y;
      return fixup(x) - fixup(y);
    }
  }
  return a.length - b.length;
}

/** Maps UTF-16 code units so that surrogates (astral code points) sort after U+E000…U+FFFF. */
function fixup(c: number): number {
  if (c >= 0xe000) return c - 0x800;
  if (c >= 0xd800) return c + 0x2000;
  return c;
}

/** Go `Partition.Compare`: keys compared element by element (UTF-8 byte order); a prefix sorts first. */
export function comparePartitions(a: Partition, b: Partition): number {
  const n = Math.min(a.keys.length, b.keys.length);
  for (let i = 0; i < n; i++) {
    const c = compareUtf8(a.keys[i] as string, b.keys[i] as string);
    if (c !== 0) return c;
  }
  return a.keys.length - b.keys.length;
}
