import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { consistentHash, sticky } from '../../../src/strategies/index.js';
import { InvalidConfigError } from '../../../src/errors.js';
import { partitionId } from '../../../src/types.js';
import type { AssignmentMap, Partition } from '../../../src/types.js';
import { loads, numbered, owners, partitionsArb, permute, unitPartitions, view, workersArb } from './support.js';

const RUNS = Number(process.env.STICKY_RUNS ?? 80);
const eff = (p: Partition): number => (p.weight > 0 ? p.weight : 1);
const total = (ps: readonly Partition[]): number => ps.reduce((s, p) => s + eff(p), 0);

function moved(before: ReadonlyMap<string, readonly Partition[]>, after: AssignmentMap): number {
  const a = owners(before);
  let n = 0;
  for (const [id, w] of owners(after)) if (a.has(id) && a.get(id) !== w) n++;
  return n;
}

/** An arbitrary (possibly unbalanced, possibly stale) previous assignment. */
function randomPrevious(workers: string[], partitions: Partition[], seed: number): Map<string, Partition[]> {
  const prev = new Map<string, Partition[]>(workers.map((w) => [w, []]));
  const extra = ['gone-1', 'gone-2'];
  for (const w of extra) prev.set(w, []);
  const all = [...workers, ...extra];
  permute(partitions, seed).forEach((p, i) => {
    // Skewed: low-index workers get more.
    const w = all[Math.min(all.length - 1, Math.floor(((i * 7919 + seed) >>> 0) % (all.length * all.length) ** 0.5))] as string;
    prev.get(w)?.push(p);
  });
  return prev;
}

void describe('strategies - sticky options', () => {
  void it('strategies - sticky rejects balanceFactor < 1, non-integer virtualNodes, bad seed or defaultWeight', () => {
    const cases: [object, string][] = [
      [{ balanceFactor: 0.99 }, 'sticky.balanceFactor'],
      [{ balanceFactor: Number.NaN }, 'sticky.balanceFactor'],
      [{ balanceFactor: Infinity }, 'sticky.balanceFactor'],
      [{ virtualNodes: 0 }, 'sticky.virtualNodes'],
      [{ virtualNodes: 1.5 }, 'sticky.virtualNodes'],
      [{ seed: -1 }, 'sticky.seed'],
      [{ seed: 2n ** 64n }, 'sticky.seed'],
      [{ defaultWeight: 0 }, 'sticky.defaultWeight'],
    ];
    for (const [opts, field] of cases) {
      assert.throws(() => sticky(opts), (e: unknown) => e instanceof InvalidConfigError && e.field === field);
    }
    assert.deepEqual(sticky().options, { balanceFactor: 1.25, virtualNodes: 150, seed: 0n, defaultWeight: 1 });
  });
});

void describe('strategies - sticky behaviour', () => {
  void it('strategies - sticky keeps partitions on surviving owners and moves only the crashed worker’s share', () => {
    const s = sticky();
    const partitions = unitPartitions(2400);
    const before = s.assign({ workers: numbered('worker', 30), partitions });
    const survivors = numbered('worker', 30).filter((w) => w !== 'worker-7');
    const after = s.assign({ workers: survivors, partitions, previous: before });
    assert.equal(moved(before, after), before.get('worker-7')?.length);
    const l = [...loads(after, eff).values()];
    assert.ok(Math.max(...l) <= 1.25 * (2400 / 29));
  });

  void it('strategies - sticky gives a joining worker about its share and takes nothing else', () => {
    const s = sticky();
    const partitions = unitPartitions(2400);
    const before = s.assign({ workers: numbered('worker', 30), partitions });
    const after = s.assign({ workers: numbered('worker', 31), partitions, previous: before });
    const m = moved(before, after);
    assert.ok(m >= 77 && m <= 78, `moved ${m}, minimum 2400/31 = 77.4`);
    assert.equal(after.get('worker-30')?.length, m);
    // 30 → 45: minimum 1/3 of 2400.
    const scaled = s.assign({ workers: numbered('worker', 45), partitions, previous: before });
    const m45 = moved(before, scaled);
    assert.ok(m45 <= 1.02 * 800, `moved ${m45}`);
    assert.ok(Math.max(...[...scaled.values()].map((l) => l.length)) <= 1.25 * (2400 / 45));
  });

  void it('strategies - sticky on a cold start is the bounded-load ring, evened out', () => {
    const partitions = unitPartitions(1000);
    const workers = numbered('worker', 10);
    const r = sticky().assign({ workers, partitions });
    const counts = [...r.values()].map((l) => l.length);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 2, String(counts));
    // Most partitions sit on their ring owner (what consistentHash gives).
    const ring = owners(consistentHash().assign({ workers, partitions }));
    let same = 0;
    for (const [id, w] of owners(r)) if (ring.get(id) === w) same++;
    assert.ok(same / 1000 > 0.8, `${same} on their ring owner`);
  });

  void it('strategies - sticky places a partition heavier than the cap and keeps it there', () => {
    const s = sticky();
    const partitions = [{ keys: ['huge'], weight: 1000 }, ...unitPartitions(30)];
    const workers = ['a', 'b', 'c'];
    const r1 = s.assign({ workers, partitions });
    const r2 = s.assign({ workers, partitions, previous: r1 });
    assert.deepEqual(view(r2), view(r1));
    const owner = owners(r1).get('huge') as string;
    assert.equal(r1.get(owner)?.length, 1, 'the heavy partition’s worker gets nothing else');
  });

  void it('strategies - sticky ignores previous entries for unknown partitions and dead workers', () => {
    const partitions = unitPartitions(20);
    const previous = new Map<string, Partition[]>([
      ['dead', partitions.slice(0, 10)],
      ['w1', [...partitions.slice(10, 20), { keys: ['gone'], weight: 5 }]],
    ]);
    const r = sticky().assign({ workers: ['w1', 'w2'], partitions, previous });
    for (const p of partitions.slice(10, 20)) assert.equal(owners(r).get(partitionId(p)), 'w1');
    assert.equal(r.get('w2')?.length, 10);
  });
});

void describe('strategies - sticky properties', () => {
  void it('strategies - sticky max/avg load ≤ balanceFactor whenever an assignment that good exists (unit weights, property)', () => {
    fc.assert(
      fc.property(
        workersArb(),
        fc.integer({ min: 1, max: 300 }),
        fc.double({ min: 1, max: 2, noNaN: true }),
        fc.integer(),
        fc.boolean(),
        (workers, n, bf, seed, withPrevious) => {
          const partitions = unitPartitions(n);
          const W = workers.length;
          const avg = n / W;
          fc.pre(Math.ceil(n / W) <= bf * avg); // achievable
          const previous = withPrevious ? randomPrevious(workers, partitions, seed) : undefined;
          const r = sticky({ balanceFactor: bf }).assign({ workers, partitions, previous });
          const max = Math.max(...[...r.values()].map((l) => l.length));
          assert.ok(max <= bf * avg * (1 + 1e-9), `max ${max} avg ${avg} bf ${bf}`);
        },
      ),
      { numRuns: RUNS * 2 },
    );
  });

  void it('strategies - sticky max load ≤ max(balanceFactor × share, share + heaviest partition) for any weights (property)', () => {
    fc.assert(
      fc.property(workersArb(), partitionsArb(150, fc.nat({ max: 40 })), fc.integer(), fc.boolean(), (workers, partitions, seed, withPrevious) => {
        fc.pre(partitions.length > 0);
        const previous = withPrevious ? randomPrevious(workers, partitions, seed) : undefined;
        const r = sticky().assign({ workers, partitions, previous });
        const share = total(partitions) / workers.length;
        const heaviest = Math.max(...partitions.map(eff));
        const bound = Math.max(1.25 * share, share + heaviest) * (1 + 1e-9);
        for (const [w, l] of loads(r, eff)) assert.ok(l <= bound, `${w} load ${l} > ${bound}`);
      }),
      { numRuns: RUNS },
    );
  });

  void it('strategies - sticky moves a surviving worker’s partition only if that worker is over the cap or a joiner takes it (property)', () => {
    fc.assert(
      fc.property(workersArb(), partitionsArb(150), fc.integer(), fc.boolean(), (workers, partitions, seed, fromSticky) => {
        const before = permute(workers, seed).slice(0, Math.max(1, Math.ceil(workers.length / 2) + (seed & 3)));
        const previous: ReadonlyMap<string, readonly Partition[]> = fromSticky
          ? sticky().assign({ workers: before, partitions })
          : randomPrevious(before, partitions, seed);
        const r = sticky().assign({ workers, partitions, previous });
        const cap = (1.25 * total(partitions)) / workers.length;
        const prevLoad = new Map([...previous].map(([w, l]) => [w, l.reduce((s, p) => s + eff(p), 0)]));
        const prevOwner = owners(previous);
        const alive = new Set(workers);
        for (const [id, now] of owners(r)) {
          const was = prevOwner.get(id);
          if (was === undefined || !alive.has(was) || was === now) continue;
          const overCap = (prevLoad.get(was) ?? 0) > cap * (1 + 1e-9);
          const joiner = !previous.has(now);
          assert.ok(overCap || joiner, `${id} moved ${was} → ${now} needlessly`);
        }
      }),
      { numRuns: RUNS },
    );
  });

  void it('strategies - sticky moves nothing when nothing changed (re-run on its own result, property)', () => {
    fc.assert(
      fc.property(workersArb(), partitionsArb(150, fc.nat({ max: 6 })), fc.integer(), fc.boolean(), (workers, partitions, seed, withPrevious) => {
        const s = sticky();
        const r1 = s.assign({ workers, partitions, previous: withPrevious ? randomPrevious(workers, partitions, seed) : undefined });
        const r2 = s.assign({ workers, partitions, previous: r1 });
        assert.deepEqual(view(r2), view(r1));
      }),
      { numRuns: RUNS },
    );
  });

  void it('strategies - sticky moves exactly the removed workers’ partitions when workers only leave (unit weights, property)', () => {
    fc.assert(
      fc.property(workersArb(), fc.integer({ min: 0, max: 300 }), fc.integer(), (workers, n, seed) => {
        fc.pre(workers.length >= 2);
        const partitions = unitPartitions(n);
        const before = sticky().assign({ workers, partitions });
        const survivors = permute(workers, seed).slice(0, 1 + (Math.abs(seed) % (workers.length - 1)));
        const after = sticky().assign({ workers: survivors, partitions, previous: before });
        const orphaned = workers.filter((w) => !survivors.includes(w)).reduce((s, w) => s + (before.get(w)?.length ?? 0), 0);
        assert.equal(moved(before, after), orphaned);
      }),
      { numRuns: RUNS },
    );
  });

  void it('strategies - sticky moves at most about the minimum when workers only join (unit weights, property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 50, max: 400 }), (w0, added, n) => {
        const partitions = unitPartitions(n);
        const before = sticky().assign({ workers: numbered('worker', w0), partitions });
        const after = sticky().assign({ workers: numbered('worker', w0 + added), partitions, previous: before });
        // Lower bound on any balanced result: each joiner must reach ⌊n/W⌋ … at most its share + 1.
        const min = (n * added) / (w0 + added);
        assert.ok(moved(before, after) <= Math.ceil(min) + added, `moved ${moved(before, after)} min ${min}`);
      }),
      { numRuns: RUNS },
    );
  });
});
