/**
 * Parity with the Go library parti, from vectors its own code produced (test/fixtures/golden-ring.json,
 * a copy of shared/fixtures/golden-ring.json; parti @0a25524, zeebo/xxh3 1.1.0).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { consistentHash, roundRobin, weightedConsistentHash } from '../../../src/strategies/index.js';
import { partitionHash, vnodeHash, xxh3Hash } from '../../../src/strategies/hash.js';
import { partitionId, partitionSubjectKey } from '../../../src/types.js';
import type { AssignmentStrategy, Partition } from '../../../src/types.js';

interface Scenario {
  name: string;
  strategy: 'ConsistentHash' | 'WeightedConsistentHash' | 'RoundRobin';
  options: { seed?: number; vnodes?: number; overload?: number; extreme?: number };
  workers: string[];
  weights: string;
  owner: Record<string, string>;
  counts: Record<string, number>;
}
interface Golden {
  meta: { notes: string[] };
  scenarios: Scenario[];
  hashId: { id: string; keys: string[]; subjectKey: string; hashId: string; hashIdSeed0: string; hashIdSeed12345: string }[];
  xxh3: { seedH: string; vectors: { s: string; hashString: string; hashStringSeed1: string; hashStringSeedH: string }[] };
  vnodeHashes_seed0_first5: Record<string, string[]>;
}

const golden = JSON.parse(
  readFileSync(new URL('../../fixtures/golden-ring.json', import.meta.url), 'utf8'),
) as Golden;

/** meta.notes: partition-0..199 (single key), then the multi-key ones, in that order. */
const KEYS: string[][] = [
  ...Array.from({ length: 200 }, (_, i) => [`partition-${i}`]),
  ['orders', '0'],
  ['orders', '1'],
  ['orders', '2'],
  ['tenant-a', 'region-1', 'shard-7'],
];

function weightFor(desc: string, i: number): number {
  if (desc === 'all 100') return 100;
  if (desc.startsWith('partition index i')) return (i % 5) + 1; // "(i%5)+1"
  if (desc.startsWith('weight (i%5)+1, except i%50==7')) return i % 50 === 7 ? 40 : (i % 5) + 1;
  throw new Error(`unknown weight description: ${desc}`);
}

function partitionsFor(s: Scenario): Partition[] {
  return KEYS.map((keys, i) => ({ keys, weight: weightFor(s.weights, i) }));
}

/** Partitions whose owner differs from Go's. */
function mismatches(s: Scenario, strategy: AssignmentStrategy, partitions = partitionsFor(s)): string[] {
  const result = strategy.assign({ workers: s.workers, partitions });
  const bad: string[] = [];
  let placed = 0;
  for (const [w, list] of result) {
    for (const p of list) {
      placed++;
      if (s.owner[partitionId(p)] !== w) bad.push(`${partitionId(p)}→${w} (go: ${s.owner[partitionId(p)]})`);
    }
  }
  assert.equal(placed, Object.keys(s.owner).length);
  return bad;
}

const byStrategy = (name: Scenario['strategy']) => golden.scenarios.filter((s) => s.strategy === name);

void describe('golden - xxh3 and partition hashes', () => {
  void it('golden - XXH3-64 vectors (unseeded, seed 1, seed H ≥ 2^63) match zeebo/xxh3', () => {
    const seedH = BigInt(golden.xxh3.seedH);
    assert.ok(golden.xxh3.vectors.length >= 10);
    for (const v of golden.xxh3.vectors) {
      assert.equal(xxh3Hash(v.s).toString(), v.hashString, v.s);
      assert.equal(xxh3Hash(v.s, 1n).toString(), v.hashStringSeed1, v.s);
      assert.equal(xxh3Hash(v.s, seedH).toString(), v.hashStringSeedH, v.s);
    }
  });

  void it('golden - partition HashID/HashIDSeed chain, ID and SubjectKey match Go (incl. empty and non-ASCII keys)', () => {
    for (const h of golden.hashId) {
      const p: Partition = { keys: h.keys, weight: 1 };
      assert.equal(partitionHash(p).toString(), h.hashId, h.id);
      assert.equal(partitionHash(p, 0n).toString(), h.hashIdSeed0, h.id);
      assert.equal(partitionHash(p, 12345n).toString(), h.hashIdSeed12345, h.id);
      assert.equal(partitionId(p), h.id);
      assert.equal(partitionSubjectKey(p), h.subjectKey);
    }
  });

  void it('golden - vnode positions are XXH3(LE64(i), seed = XXH3(workerID))', () => {
    for (const [worker, first5] of Object.entries(golden.vnodeHashes_seed0_first5)) {
      const base = xxh3Hash(worker);
      assert.deepEqual(first5, [0, 1, 2, 3, 4].map((i) => vnodeHash(i, base).toString()), worker);
    }
  });
});

void describe('golden - placement parity with parti Go', () => {
  for (const s of byStrategy('ConsistentHash')) {
    void it(`golden - consistentHash ${s.name} (vnodes ${s.options.vnodes}, seed ${s.options.seed}) places every partition like Go`, () => {
      const strategy = consistentHash({ virtualNodes: s.options.vnodes, seed: s.options.seed });
      assert.deepEqual(mismatches(s, strategy), []);
      // Input order does not matter (Go: "order-independent").
      assert.deepEqual(mismatches(s, strategy, partitionsFor(s).reverse()), []);
    });
  }

  for (const s of byStrategy('WeightedConsistentHash')) {
    const opts = {
      virtualNodes: s.options.vnodes,
      seed: s.options.seed,
      overloadThreshold: s.options.overload,
      extremeThreshold: s.options.extreme,
    };
    void it(`golden - weightedConsistentHash ${s.name} with order 'input' places every partition like Go`, () => {
      assert.deepEqual(mismatches(s, weightedConsistentHash({ ...opts, order: 'input' })), []);
    });
    if (s.weights === 'all 100' || s.name.startsWith('w3/') || s.name.startsWith('w5/')) {
      // No partition hits the soft cap here, so the visiting order is irrelevant.
      void it(`golden - weightedConsistentHash ${s.name} with the default canonical order places every partition like Go`, () => {
        assert.deepEqual(mismatches(s, weightedConsistentHash(opts)), []);
      });
    }
  }

  void it('golden - weightedConsistentHash canonical order differs from Go only where the soft cap re-targets', () => {
    for (const s of byStrategy('WeightedConsistentHash')) {
      const strategy = weightedConsistentHash({ overloadThreshold: s.options.overload, extremeThreshold: s.options.extreme });
      const bad = mismatches(s, strategy);
      assert.ok(bad.length <= 15, `${s.name}: ${bad.length} partitions differ`);
    }
  });

  for (const s of byStrategy('RoundRobin')) {
    void it(`golden - roundRobin ${s.name} gives the same per-worker counts as Go (placement differs by design: parti-ts sorts)`, () => {
      const result = roundRobin().assign({ workers: s.workers, partitions: partitionsFor(s) });
      const ours = Array.from(result.values(), (l) => l.length).sort((a, b) => a - b);
      const go = Object.values(s.counts).sort((a, b) => a - b);
      assert.deepEqual(ours, go);
    });
  }

  void it('golden - the fixture holds the expected scenario set', () => {
    assert.equal(byStrategy('ConsistentHash').length, 6);
    assert.equal(byStrategy('WeightedConsistentHash').length, 12);
    assert.equal(byStrategy('RoundRobin').length, 5);
  });
});
