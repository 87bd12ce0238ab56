/**
 * `sticky()`: parti-ts's own strategy. Movement close to the theoretical minimum with a hard
 * bound on imbalance, where a stateless ring is either unbalanced or moves more.
 *
 * With share = total weight / W and cap = balanceFactor × share:
 * 1. Keep: a partition stays on its previous owner while that owner is alive and its kept load
 *    stays ≤ cap. (A load above the cap only because of one partition added while the owner was
 *    below its share — lumpy weights — is kept whole.) An over-cap owner keeps first the
 *    partitions the ring gives it, then those the ring gives to other old workers, and releases
 *    those the ring gives to joining workers.
 * 2. Place the rest (new, orphaned, released; heaviest first, then key order) by bounded-load
 *    consistent hashing on the parti Go ring: the ring owner if it has room under the cap, else
 *    the next worker clockwise with room; if nobody has room, the least-loaded worker.
 * 3. Joiners (workers absent from `previous`; every worker when there is no `previous`) below
 *    their share pull partitions until they reach it: first partitions that are moving in this
 *    call anyway (free), then others; within each, those the ring gives to the joiner first,
 *    then from the most-loaded worker. A pull needs the donor above its share and must strictly
 *    narrow the gap between the two.
 *
 * Guarantees (property-tested): max load ≤ max(cap, share + heaviest partition), so max/avg ≤
 * balanceFactor whenever unit weights allow it; a surviving worker's partition moves only if
 * that worker was over the cap or a joiner takes it; when workers only leave, exactly their
 * partitions move; re-running with `previous` = the result moves nothing.
 */
import type { AssignInput, AssignmentMap, AssignmentStrategy, Partition } from '../types.js';
import { partitionId } from '../types.js';
import { DEFAULT_VIRTUAL_NODES, parseSeed } from './consistent-hash.js';
import { compareUtf8 } from './hash.js';
import { RingCache } from './ring.js';
import { emptyAssignment, prepareInput, requireFinite, requireInteger } from './validate.js';

export interface StickyOptions {
  /** Max load as a multiple of the fair share (total weight / workers). Finite, ≥ 1. Default 1.25. */
  readonly balanceFactor?: number;
  /** Virtual nodes per worker on the ring used for new and orphaned partitions. Integer ≥ 1. Default 150. */
  readonly virtualNodes?: number;
  /** Ring seed, uint64. Default 0 (the same ring as consistentHash()). */
  readonly seed?: number | bigint;
  /** Weight counted for partitions whose weight is 0. Integer ≥ 1. Default 1. */
  readonly defaultWeight?: number;
}

export interface StickyStrategy extends AssignmentStrategy {
  readonly options: {
    readonly balanceFactor: number;
    readonly virtualNodes: number;
    readonly seed: bigint;
    readonly defaultWeight: number;
  };
}

export const DEFAULT_BALANCE_FACTOR = 1.25;

/** Relative tolerance for float comparisons against the cap (loads are sums of integers). */
const EPS = 1e-9;

export function sticky(options: StickyOptions = {}): StickyStrategy {
  const f = 'sticky';
  const balanceFactor = requireFinite(`${f}.balanceFactor`, options.balanceFactor ?? DEFAULT_BALANCE_FACTOR, 1);
  const virtualNodes = requireInteger(`${f}.virtualNodes`, options.virtualNodes ?? DEFAULT_VIRTUAL_NODES, 1);
  const seed = parseSeed(`${f}.seed`, options.seed);
  const defaultWeight = requireInteger(`${f}.defaultWeight`, options.defaultWeight ?? 1, 1);
  const rings = new RingCache(virtualNodes, seed);
  const name = 'sticky';

  return {
    name,
    version: 1,
    options: { balanceFactor, virtualNodes, seed, defaultWeight },
    assign(input: AssignInput): AssignmentMap {
      const { workers, partitions } = prepareInput(name, input);
      const out = emptyAssignment(workers);
      if (partitions.length === 0) return out;
      const plan = new Plan(workers, partitions, input.previous, {
        balanceFactor,
        defaultWeight,
        ring: rings.get(workers),
      });
      plan.keep();
      plan.placeOrphans();
      plan.fillJoiners();
      const buckets = workers.map((w) => out.get(w) ?? []);
      plan.holder.forEach((wi, pi) => buckets[wi]?.push(partitions[pi] as Partition));
      return out;
    },
  };
}

interface PlanConfig {
  readonly balanceFactor: number;
  readonly defaultWeight: number;
  readonly ring: ReturnType<RingCache['get']>;
}

/** One assignment computation. Workers and partitions are referred to by canonical index. */
class Plan {
  private readonly W: number;
  private readonly P: number;
  private readonly weight: Float64Array;
  /** Summed effective weight; share = total / W. */
  private readonly total: number;
  /** The cap, balanceFactor × share, with a relative tolerance for float rounding. */
  private readonly capTol: number;
  private readonly ringPos: Uint32Array;
  private readonly ringOwner: Int32Array;
  /** Alive previous owner, or −1. */
  private readonly prevOwner: Int32Array;
  private readonly joiner: boolean[];
  /** Current holder of each partition, −1 while unplaced. */
  readonly holder: Int32Array;
  private readonly load: Float64Array;
  /** Partitions held by each worker (insertion-ordered sets, deterministic iteration). */
  private readonly held: Set<number>[];
  /** Per worker: how many held partitions are moving in this call (holder ≠ previous owner). */
  private readonly movingCount: Int32Array;
  /** Per worker: lightest held weight, NaN when it must be recomputed. Prunes stage 3 scans. */
  private readonly minHeld: Float64Array;

  constructor(
    workers: readonly string[],
    private readonly partitions: readonly Partition[],
    previous: ReadonlyMap<string, readonly Partition[]> | undefined,
    private readonly cfg: PlanConfig,
  ) {
    this.W = workers.length;
    this.P = partitions.length;
    this.weight = new Float64Array(this.P);
    let total = 0;
    for (let i = 0; i < this.P; i++) {
      const w = (partitions[i] as Partition).weight;
      const ew = w > 0 ? w : cfg.defaultWeight;
      this.weight[i] = ew;
      total += ew;
    }
    this.total = total;
    this.capTol = ((cfg.balanceFactor * total) / this.W) * (1 + EPS);

    this.ringPos = new Uint32Array(this.P);
    this.ringOwner = new Int32Array(this.P);
    for (let i = 0; i < this.P; i++) {
      const v = cfg.ring.locate(partitions[i] as Partition);
      this.ringPos[i] = v;
      this.ringOwner[i] = cfg.ring.ownerAt(v);
    }

    const workerIndex = new Map<string, number>();
    workers.forEach((w, i) => workerIndex.set(w, i));
    this.prevOwner = new Int32Array(this.P).fill(-1);
    this.joiner = workers.map((w) => previous === undefined || !previous.has(w));
    if (previous !== undefined && previous.size > 0) {
      const partitionIndex = new Map<string, number>();
      partitions.forEach((p, i) => partitionIndex.set(partitionId(p), i));
      // Sorted, so a partition listed under two alive workers resolves the same way every time.
      const prevWorkers = Array.from(previous.keys()).sort(compareUtf8);
      for (const w of prevWorkers) {
        const wi = workerIndex.get(w);
        if (wi === undefined) continue;
        for (const p of previous.get(w) ?? []) {
          const pi = partitionIndex.get(partitionId(p));
          if (pi !== undefined && this.prevOwner[pi] === -1) this.prevOwner[pi] = wi;
        }
      }
    }

    this.holder = new Int32Array(this.P).fill(-1);
    this.load = new Float64Array(this.W);
    this.held = workers.map(() => new Set<number>());
    this.movingCount = new Int32Array(this.W);
    this.minHeld = new Float64Array(this.W).fill(Infinity);
  }

  private put(pi: number, wi: number): void {
    const from = this.holder[pi] as number;
    const w = this.weight[pi] as number;
    const prev = this.prevOwner[pi] as number;
    if (from >= 0) {
      this.held[from]?.delete(pi);
      this.load[from] = (this.load[from] as number) - w;
      if (from !== prev) this.movingCount[from] = (this.movingCount[from] as number) - 1;
      if (this.minHeld[from] === w) this.minHeld[from] = Number.NaN;
    }
    this.holder[pi] = wi;
    this.held[wi]?.add(pi);
    this.load[wi] = (this.load[wi] as number) + w;
    if (wi !== prev) this.movingCount[wi] = (this.movingCount[wi] as number) + 1;
    this.minHeld[wi] = Math.min(this.minHeld[wi] as number, w); // stays NaN if dirty
  }

  private lightestHeld(wi: number): number {
    let m = this.minHeld[wi] as number;
    if (Number.isNaN(m)) {
      m = Infinity;
      for (const pi of this.held[wi] ?? []) m = Math.min(m, this.weight[pi] as number);
      this.minHeld[wi] = m;
    }
    return m;
  }

  /** load < share, exactly (loads and total are integer sums): load × W < total. */
  private belowShare(load: number): boolean {
    return load * this.W < this.total;
  }

  /** load > share, exactly. */
  private aboveShare(load: number): boolean {
    return load * this.W > this.total;
  }

  private fits(wi: number, w: number): boolean {
    return (this.load[wi] as number) + w <= this.capTol;
  }

  /** Stage 1: keep partitions on their alive previous owner up to the cap. */
  keep(): void {
    const candidates: number[][] = Array.from({ length: this.W }, () => []);
    for (let pi = 0; pi < this.P; pi++) {
      const o = this.prevOwner[pi] as number;
      if (o >= 0) candidates[o]?.push(pi);
    }
    candidates.forEach((list, wi) => {
      let sum = 0;
      let heaviest = 0;
      for (const pi of list) {
        const w = this.weight[pi] as number;
        sum += w;
        heaviest = Math.max(heaviest, w);
      }
      // Keep everything under the cap, and also a load that only exceeds it because of one
      // partition added while the owner was below its share (lumpy weights). This is exactly the
      // bound the placement below guarantees, so re-running on a result moves nothing.
      if (sum <= this.capTol || this.belowShare(sum - heaviest)) {
        for (const pi of list) this.put(pi, wi);
        return;
      }
      // Over the cap: keep ring-owned first, then partitions the ring gives to old workers;
      // release those the ring gives to joiners first. Stable sort keeps key order within a class.
      const rank = (pi: number): number => {
        const r = this.ringOwner[pi] as number;
        if (r === wi) return 0;
        return this.joiner[r] === true ? 2 : 1;
      };
      list.sort((a, b) => rank(a) - rank(b));
      for (const pi of list) {
        if (this.belowShare(this.load[wi] as number) || this.fits(wi, this.weight[pi] as number)) this.put(pi, wi);
      }
    });
  }

  /** Stage 2: bounded-load consistent hashing for everything not kept. */
  placeOrphans(): void {
    const orphans: number[] = [];
    for (let pi = 0; pi < this.P; pi++) if ((this.holder[pi] as number) < 0) orphans.push(pi);
    // Heaviest first (first-fit decreasing packs lumpy weights under the cap), then key order.
    orphans.sort((a, b) => (this.weight[b] as number) - (this.weight[a] as number) || a - b);
    for (const pi of orphans) {
      const w = this.weight[pi] as number;
      // When nobody has room (lumpy weights) the least-loaded worker takes it.
      const target = this.minLoad() + w <= this.capTol ? this.ringWalk(pi, w) : this.leastLoaded(this.prevOwner[pi] as number);
      this.put(pi, target);
    }
  }

  /** The first worker clockwise from the partition's ring position with room for `w`. */
  private ringWalk(pi: number, w: number): number {
    const ring = this.cfg.ring;
    // The caller checked that some worker has room, so the walk ends within one turn.
    for (let v = this.ringPos[pi] as number; ; v = v + 1 === ring.size ? 0 : v + 1) {
      const wi = ring.ownerAt(v);
      if (this.fits(wi, w)) return wi;
    }
  }

  private minLoad(): number {
    let m = Infinity;
    for (let i = 0; i < this.W; i++) m = Math.min(m, this.load[i] as number);
    return m;
  }

  /** Lowest load; ties → `preferred` if it is among them, else the lowest index. */
  private leastLoaded(preferred: number): number {
    let best = 0;
    for (let i = 1; i < this.W; i++) if ((this.load[i] as number) < (this.load[best] as number)) best = i;
    if (preferred >= 0 && this.load[preferred] === this.load[best]) return preferred;
    return best;
  }

  /** True if moving `pi` from its holder to `u` is a pull stage 3 may make. */
  private canPull(pi: number, u: number): boolean {
    const d = this.holder[pi] as number;
    if (d === u) return false;
    const w = this.weight[pi] as number;
    const lu = this.load[u] as number;
    const ld = this.load[d] as number;
    return this.aboveShare(ld) && lu + w < ld && lu + w <= this.capTol;
  }

  /** A partition whose holder differs from its previous owner is moving in this call anyway. */
  private moving(pi: number): boolean {
    return this.holder[pi] !== this.prevOwner[pi];
  }

  /** Stage 3: joiners below their share pull partitions until they reach it. */
  fillJoiners(): void {
    const owned: number[][] = Array.from({ length: this.W }, () => []);
    for (let pi = 0; pi < this.P; pi++) owned[this.ringOwner[pi] as number]?.push(pi);
    // Passes until nothing moves. Every pull strictly lowers the sum of squared loads, so this ends.
    for (;;) {
      const receivers: number[] = [];
      for (let wi = 0; wi < this.W; wi++) {
        if (this.joiner[wi] === true && this.belowShare(this.load[wi] as number)) receivers.push(wi);
      }
      if (receivers.length === 0) return;
      receivers.sort((a, b) => (this.load[a] as number) - (this.load[b] as number) || a - b);
      let moved = 0;
      for (const u of receivers) moved += this.fill(u, owned[u] ?? []);
      if (moved === 0) return;
    }
  }

  private fill(u: number, ringOwned: readonly number[]): number {
    let moved = 0;
    const below = (): boolean => this.belowShare(this.load[u] as number);
    // Cheapest first: partitions that are moving in this call anyway cost no extra movement.
    // Within each cost, those the ring gives to u come first.
    const owned = ringOwned.filter((pi) => this.holder[pi] !== u);
    for (const movingOnly of [true, false]) {
      for (const pi of owned) {
        if (!below()) return moved;
        if (this.moving(pi) === movingOnly && this.canPull(pi, u)) {
          this.put(pi, u);
          moved++;
        }
      }
      // Then from the most-loaded donors.
      const exhausted = new Set<number>();
      while (below()) {
        const lu = this.load[u] as number;
        let d = -1;
        for (let wi = 0; wi < this.W; wi++) {
          if (wi === u || exhausted.has(wi)) continue;
          const ld = this.load[wi] as number;
          if (d >= 0 && ld <= (this.load[d] as number)) continue;
          if (!this.aboveShare(ld) || (movingOnly && this.movingCount[wi] === 0)) continue;
          const lightest = this.lightestHeld(wi);
          if (lu + lightest >= ld || lu + lightest > this.capTol) continue; // nothing on wi can move to u
          d = wi;
        }
        if (d < 0) break;
        const pi = this.pickFrom(d, u, movingOnly);
        if (pi < 0) {
          exhausted.add(d);
          continue;
        }
        this.put(pi, u);
        moved++;
      }
    }
    return moved;
  }

  /** Best partition for donor `d` to hand to `u`: not ring-owned by d first, then key order. */
  private pickFrom(d: number, u: number, movingOnly: boolean): number {
    let best = -1;
    let bestRank = Infinity;
    for (const pi of this.held[d] ?? []) {
      if (movingOnly && !this.moving(pi)) continue;
      if (!this.canPull(pi, u)) continue;
      const rank = (this.moving(pi) ? 0 : 2) + (this.ringOwner[pi] === d ? 1 : 0);
      if (rank < bestRank || (rank === bestRank && pi < best)) {
        best = pi;
        bestRank = rank;
      }
    }
    return best;
  }
}
