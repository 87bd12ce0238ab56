import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareUtf8, comparePartitions, splitU64, toU64 } from '../../../src/strategies/hash.js';

const sign = (n: number): number => Math.sign(n);

void describe('strategies - hash helpers', () => {
  void it('strategies - compareUtf8 orders like Go (byte-wise UTF-8), incl. astral vs U+E000…U+FFFF (property)', () => {
    assert.ok(compareUtf8('\u{1F600}', '\uFFFD') > 0, 'astral sorts after U+FFFD in UTF-8');
    assert.ok('\u{1F600}' < '\uFFFD', 'but before it in UTF-16');
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        assert.equal(sign(compareUtf8(a, b)), sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
      }),
      { numRuns: 500 },
    );
  });

  void it('strategies - comparePartitions is Go Partition.Compare: keys element-wise, a prefix first, weight ignored', () => {
    const p = (keys: string[], weight = 1) => ({ keys, weight });
    assert.ok(comparePartitions(p(['a']), p(['a', 'b'])) < 0);
    assert.ok(comparePartitions(p(['a', 'c']), p(['a', 'b'])) > 0);
    assert.ok(comparePartitions(p(['b']), p(['a', 'z'])) > 0);
    assert.equal(comparePartitions(p(['a'], 1), p(['a'], 9)), 0);
    assert.ok(comparePartitions(p(['partition-10']), p(['partition-2'])) < 0);
  });

  void it('strategies - splitU64 gives exact hi/lo halves and toU64 accepts only uint64 seeds', () => {
    assert.deepEqual(splitU64(0xffff_ffff_0000_0001n), [0xffff_ffff, 1]);
    assert.deepEqual(splitU64(2n ** 63n), [0x8000_0000, 0]);
    assert.equal(toU64(42), 42n);
    assert.equal(toU64(2n ** 64n - 1n), 2n ** 64n - 1n);
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 60, -1n, 2n ** 64n]) assert.equal(toU64(bad), undefined, String(bad));
  });
});
