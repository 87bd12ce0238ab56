/**
 * The parti Go hash ring (behaviour spec §1.8.1), shared by consistentHash, weightedConsistentHash
 * and sticky. Vnode positions are unsigned 64-bit values kept as exact [hi, lo] uint32 pairs, so
 * ordering and binary search equal Go's uint64 comparisons without bigint in the hot path.
 * @internal
 */
import type { Partition } from '../types.js';
import { partitionHash, splitU64, vnodeHash, xxh3Hash } from './hash.js';

export class HashRing {
  /** Workers in the order given to the constructor (callers pass them sorted); index = worker index. */
  readonly workers: readonly string[];
  readonly seed: bigint;
  readonly size: number;
  private readonly hi: Uint32Array;
  private readonly lo: Uint32Array;
  private readonly owner: Uint32Array;

  constructor(workers: readonly string[], virtualNodes: number, seed: bigint) {
    this.workers = workers;
    this.seed = seed;
    const n = workers.length * virtualNodes;
    this.size = n;
    const hi = new Uint32Array(n);
    const lo = new Uint32Array(n);
    let k = 0;
    for (let w = 0; w < workers.length; w++) {
      const base = xxh3Hash(workers[w] as string, seed);
      for (let i = 0; i < virtualNodes; i++, k++) {
        const [h, l] = splitU64(vnodeHash(i, base));
        hi[k] = h;
        lo[k] = l;
      }
    }
    // Sort vnode indices by (position, worker index). Go leaves the order of equal positions
    // unspecified; the worker index makes ours deterministic.
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((a, b) => {
      const ha = hi[a] as number;
      const hb = hi[b] as number;
      if (ha !== hb) return ha - hb;
      const la = lo[a] as number;
      const lb = lo[b] as number;
      if (la !== lb) return la - lb;
      return a - b; // vnodes were generated worker by worker, so index order = worker order
    });
    this.hi = new Uint32Array(n);
    this.lo = new Uint32Array(n);
    this.owner = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const src = order[i] as number;
      this.hi[i] = hi[src] as number;
      this.lo[i] = lo[src] as number;
      this.owner[i] = Math.floor(src / virtualNodes);
    }
  }

  /** Index of the first vnode whose position is ≥ the partition's hash, wrapping to 0. */
  locate(p: Partition): number {
    const [th, tl] = splitU64(partitionHash(p, this.seed));
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const mh = this.hi[mid] as number;
      if (mh < th || (mh === th && (this.lo[mid] as number) < tl)) lo = mid + 1;
      else hi = mid;
    }
    return lo === this.size ? 0 : lo;
  }

  /** Worker index owning vnode `v`. */
  ownerAt(v: number): number {
    return this.owner[v] as number;
  }

  /** Worker index that owns partition `p` (the Go ring lookup). */
  ownerOf(p: Partition): number {
    return this.owner[this.locate(p)] as number;
  }
}

/**
 * A small per-strategy-instance cache of rings keyed by (sorted workers, vnodes, seed), like the
 * Go weighted strategy's ring cache. Memoisation only: results are identical with or without it.
 */
export class RingCache {
  private readonly entries = new Map<string, HashRing>();
  constructor(
    private readonly virtualNodes: number,
    private readonly seed: bigint,
    private readonly capacity = 4,
  ) {}

  get(sortedWorkers: readonly string[]): HashRing {
    const key = JSON.stringify(sortedWorkers);
    let ring = this.entries.get(key);
    if (ring !== undefined) {
      this.entries.delete(key); // refresh LRU position
    } else {
      ring = new HashRing(sortedWorkers, this.virtualNodes, this.seed);
      if (this.entries.size >= this.capacity) {
        const oldest = this.entries.keys().next();
        if (oldest.done !== true) this.entries.delete(oldest.value);
      }
    }
    this.entries.set(key, ring);
    return ring;
  }
}
