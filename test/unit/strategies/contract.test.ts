/** The strategy contract, checked for every strategy with literal inputs and fast-check properties. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  checkAssignment,
  consistentHash,
  roundRobin,
  sticky,
  weightedConsistentHash,
} from '../../../src/strategies/index.js';
import { InvalidPartitionError, NoWorkersError, StrategyError } from '../../../src/errors.js';
import { partitionId } from '../../../src/types.js';
import type { AssignmentStrategy, Partition } from '../../../src/types.js';
import { partitionsArb, permute, view, workersArb } from './support.js';

const factories: [string, () => AssignmentStrategy][] = [
  ['consistentHash', () => consistentHash()],
  ['consistentHash(vn 7, seed 42)', () => consistentHash({ virtualNodes: 7, seed: 42 })],
  ['weightedConsistentHash', () => weightedConsistentHash()],
  ['weightedConsistentHash(order input)', () => weightedConsistentHash({ order: 'input' })],
  ['roundRobin', () => roundRobin()],
  ['sticky', () => sticky()],
  ['sticky(balanceFactor 1)', () => sticky({ balanceFactor: 1 })],
];

const RUNS = 60;
const P = (keys: string[], weight = 1): Partition => ({ keys, weight });

for (const [label, make] of factories) {
  void describe(`strategies - contract of ${label}`, () => {
    const s = make();

    void it('strategies - is a { name, version, assign } value', () => {
      assert.equal(typeof s.name, 'string');
      assert.ok(Number.isInteger(s.version) && s.version >= 1);
      assert.equal(typeof s.assign, 'function');
    });

    void it('strategies - no workers throws NoWorkersError', () => {
      assert.throws(() => s.assign({ workers: [], partitions: [P(['a'])] }), NoWorkersError);
      assert.throws(() => s.assign({ workers: [], partitions: [] }), NoWorkersError);
    });

    void it('strategies - a partition without keys, a bad weight or a duplicate id throws InvalidPartitionError', () => {
      const bad: Partition[][] = [
        [P(['a']), P([])],
        [P(['a'], -1)],
        [P(['a'], 1.5)],
        [P(['a'], Number.NaN)],
        [P(['a']), P(['a'], 7)],
        [P(['a-b']), P(['a', 'b'])], // same id "a-b"
        [{ keys: [1 as unknown as string], weight: 1 }],
      ];
      for (const partitions of bad) {
        assert.throws(() => s.assign({ workers: ['w1'], partitions }), InvalidPartitionError);
      }
    });

    void it('strategies - no partitions gives every worker an empty list', () => {
      const r = s.assign({ workers: ['b', 'a', 'c'], partitions: [] });
      assert.deepEqual(view(r), [['a', []], ['b', []], ['c', []]]);
    });

    void it('strategies - duplicate worker IDs count once', () => {
      const partitions = [P(['x']), P(['y']), P(['z'])];
      const a = s.assign({ workers: ['w1', 'w2', 'w1'], partitions });
      const b = s.assign({ workers: ['w2', 'w1'], partitions });
      assert.deepEqual(view(a), view(b));
    });

    void it('strategies - exactly once, every worker present, weights conserved (property)', () => {
      fc.assert(
        fc.property(workersArb(), partitionsArb(), (workers, partitions) => {
          const input = { workers, partitions };
          const r = s.assign(input);
          checkAssignment(label, input, r);
          assert.equal(r.size, new Set(workers).size);
          const byId = new Map(partitions.map((p) => [partitionId(p), p]));
          let sum = 0;
          for (const list of r.values()) {
            for (const p of list) {
              assert.equal(p, byId.get(partitionId(p)), 'returns the input partition objects unchanged');
              sum += p.weight;
            }
          }
          assert.equal(sum, partitions.reduce((t, p) => t + p.weight, 0));
        }),
        { numRuns: RUNS },
      );
    });

    if (!label.includes('order input')) {
      void it('strategies - same result, in the same order, for any permutation of the inputs (property)', () => {
        fc.assert(
          fc.property(workersArb(), partitionsArb(), fc.integer(), (workers, partitions, seed) => {
            const r1 = s.assign({ workers, partitions });
            const r2 = make().assign({ workers: permute(workers, seed), partitions: permute(partitions, seed + 1) });
            assert.deepEqual(view(r2), view(r1));
            // With a previous assignment given in a scrambled order too (only sticky reads it).
            const prev = new Map(permute(Array.from(r1), seed + 2).map(([w, l]) => [w, permute(l, seed + 3)]));
            const dropped = workers.length > 1 ? workers.slice(1) : workers;
            const r3 = s.assign({ workers: dropped, partitions, previous: r1 });
            const r4 = s.assign({ workers: permute(dropped, seed), partitions: permute(partitions, seed), previous: prev });
            assert.deepEqual(view(r4), view(r3));
          }),
          { numRuns: RUNS },
        );
      });
    }
  });
}

void describe('strategies - checkAssignment', () => {
  void it('strategies - rejects a missing worker, an unknown or duplicated partition, an unassigned one', () => {
    const a = P(['a']);
    const b = P(['b']);
    const input = { workers: ['w1', 'w2'], partitions: [a, b] };
    assert.doesNotThrow(() => checkAssignment('t', input, new Map([['w1', [a]], ['w2', [b]]])));
    const bad = [
      new Map([['w1', [a, b]]]),
      new Map([['w1', [a, b]], ['w2', []], ['w3', []]]),
      new Map([['w1', [a, b]], ['w2', [a]]]),
      new Map([['w1', [a]], ['w2', []]]),
      new Map([['w1', [a, b, P(['c'])]], ['w2', []]]),
    ];
    for (const r of bad) assert.throws(() => checkAssignment('t', input, r), StrategyError);
  });
});
