/** Per-strategy behaviour: consistentHash, weightedConsistentHash, roundRobin, defaultStrategy. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  consistentHash,
  defaultStrategy,
  roundRobin,
  weightedConsistentHash,
} from '../../../src/strategies/index.js';
import { InvalidConfigError } from '../../../src/errors.js';
import type { Partition } from '../../../src/types.js';
import { numbered, owners, partitionsArb, unitPartitions, view, workersArb } from './support.js';

const isConfigError = (field: string) => (e: unknown) => e instanceof InvalidConfigError && e.field === field;

void describe('strategies - consistentHash', () => {
  void it('strategies - consistentHash validates virtualNodes (integer ≥ 1) and seed (uint64)', () => {
    for (const virtualNodes of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => consistentHash({ virtualNodes }), isConfigError('consistentHash.virtualNodes'));
    }
    for (const seed of [-1, 0.5, -1n, 2n ** 64n]) {
      assert.throws(() => consistentHash({ seed }), isConfigError('consistentHash.seed'));
    }
    assert.deepEqual(consistentHash().options, { virtualNodes: 150, seed: 0n });
    assert.equal(consistentHash({ seed: 2n ** 64n - 1n }).options.seed, 2n ** 64n - 1n);
  });

  void it('strategies - consistentHash ignores weights and moves only the departed worker’s partitions', () => {
    const s = consistentHash();
    const partitions = unitPartitions(500);
    const heavy = partitions.map((p, i) => ({ ...p, weight: i % 7 }));
    assert.deepEqual(view(s.assign({ workers: ['a', 'b', 'c'], partitions: heavy })), view(s.assign({ workers: ['a', 'b', 'c'], partitions })));
    const before = owners(s.assign({ workers: numbered('w', 10), partitions }));
    const after = owners(s.assign({ workers: numbered('w', 10).filter((w) => w !== 'w-3'), partitions }));
    for (const [id, w] of before) if (w !== 'w-3') assert.equal(after.get(id), w);
  });

  void it('strategies - consistentHash gives the same result from a fresh instance (the ring cache is memoisation only)', () => {
    const s = consistentHash();
    const partitions = unitPartitions(200);
    for (const workers of [numbered('w', 5), numbered('w', 6), numbered('w', 7), numbered('w', 8), numbered('w', 9), numbered('w', 5)]) {
      assert.deepEqual(view(s.assign({ workers, partitions })), view(consistentHash().assign({ workers, partitions })));
    }
  });
});

void describe('strategies - weightedConsistentHash', () => {
  void it('strategies - weightedConsistentHash clamps thresholds to the Go minimums and rejects non-numbers', () => {
    const s = weightedConsistentHash({ overloadThreshold: 1, extremeThreshold: 1, virtualNodes: 0, defaultWeight: 0 });
    assert.deepEqual(s.options, {
      virtualNodes: 1,
      seed: 0n,
      overloadThreshold: 1.15,
      extremeThreshold: 1.5,
      defaultWeight: 1,
      order: 'canonical',
    });
    assert.deepEqual(
      { ...weightedConsistentHash().options },
      { virtualNodes: 150, seed: 0n, overloadThreshold: 1.3, extremeThreshold: 2, defaultWeight: 1, order: 'canonical' },
    );
    assert.throws(() => weightedConsistentHash({ overloadThreshold: Number.NaN }), isConfigError('weightedConsistentHash.overloadThreshold'));
    assert.throws(() => weightedConsistentHash({ extremeThreshold: Infinity }), isConfigError('weightedConsistentHash.extremeThreshold'));
    assert.throws(() => weightedConsistentHash({ virtualNodes: 2.5 }), isConfigError('weightedConsistentHash.virtualNodes'));
    assert.throws(() => weightedConsistentHash({ order: 'random' as 'input' }), isConfigError('weightedConsistentHash.order'));
  });

  void it('strategies - weightedConsistentHash with equal weights equals consistentHash (property)', () => {
    fc.assert(
      fc.property(workersArb(), partitionsArb(120, fc.constant(7)), (workers, partitions) => {
        assert.deepEqual(view(weightedConsistentHash().assign({ workers, partitions })), view(consistentHash().assign({ workers, partitions })));
      }),
      { numRuns: 40 },
    );
  });

  void it('strategies - weightedConsistentHash deals extremes round-robin, heaviest first, over sorted workers', () => {
    const partitions: Partition[] = [
      ...unitPartitions(30),
      { keys: ['x'], weight: 50 },
      { keys: ['y'], weight: 60 },
      { keys: ['w'], weight: 50 },
    ];
    const r = weightedConsistentHash().assign({ workers: ['c', 'a', 'b'], partitions });
    assert.deepEqual(r.get('a')?.[0]?.keys, ['y']);
    assert.deepEqual(r.get('b')?.[0]?.keys, ['w']);
    assert.deepEqual(r.get('c')?.[0]?.keys, ['x']);
  });

  void it('strategies - weightedConsistentHash keeps loads near the soft cap with mixed weights', () => {
    const partitions = unitPartitions(3000).map((p, i) => ({ ...p, weight: 1 + (i % 9) }));
    const workers = numbered('w', 12);
    const r = weightedConsistentHash().assign({ workers, partitions });
    const total = partitions.reduce((s, p) => s + p.weight, 0);
    for (const list of r.values()) {
      const load = list.reduce((s, p) => s + p.weight, 0);
      assert.ok(load <= (total / 12) * 1.3 + 9, `load ${load}`);
    }
  });
});

void describe('strategies - roundRobin', () => {
  void it('strategies - roundRobin deals sorted partitions over sorted workers', () => {
    const partitions = [['b'], ['a'], ['d'], ['c'], ['e']].map((keys) => ({ keys, weight: 1 }));
    const r = roundRobin().assign({ workers: ['w2', 'w1'], partitions });
    assert.deepEqual(view(r), [
      ['w1', ['a', 'c', 'e']],
      ['w2', ['b', 'd']],
    ]);
  });
});

void describe('strategies - defaultStrategy', () => {
  void it('strategies - defaultStrategy is sticky with balance factor 1.25', () => {
    const s = defaultStrategy();
    assert.equal(s.name, 'sticky');
    assert.notEqual(defaultStrategy(), s, 'a fresh value each call');
  });
});
