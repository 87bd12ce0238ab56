import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { staticSource } from '../../../src/sources/static.js';
import { AbortError, InvalidPartitionError } from '../../../src/errors.js';
import type { Partition } from '../../../src/types.js';

const P = (keys: string[], weight = 1): Partition => ({ keys, weight });

void describe('sources - static', () => {
  void it('sources - static lists the partitions in the order given', async () => {
    const src = staticSource([P(['b']), P(['a', '1'], 3)]);
    assert.deepEqual(await src.listPartitions(), [P(['b']), P(['a', '1'], 3)]);
  });

  void it('sources - static returns a fresh array each call and ignores later changes to the input', async () => {
    const keys = ['x'];
    const input: Partition[] = [{ keys, weight: 1 }];
    const src = staticSource(input);
    const first = await src.listPartitions();
    input.push(P(['y']));
    keys.push('mutated');
    const second = await src.listPartitions();
    assert.notEqual(first, second);
    assert.deepEqual(second, [P(['x'])]);
    assert.ok(Object.isFrozen(second[0]) && Object.isFrozen(second[0]?.keys));
    (first as Partition[]).length = 0; // mutating a returned array does not affect the source
    assert.equal((await src.listPartitions()).length, 1);
  });

  void it('sources - static update replaces the list', async () => {
    const src = staticSource([P(['a'])]);
    src.update([P(['b']), P(['c'])]);
    assert.deepEqual(await src.listPartitions(), [P(['b']), P(['c'])]);
    src.update([]);
    assert.deepEqual(await src.listPartitions(), []);
  });

  void it('sources - static rejects invalid partitions with InvalidPartitionError, on create and update', () => {
    const bad: Partition[][] = [[P([])], [P(['a'], -1)], [P(['a'], 0.5)], [P(['a']), P(['a'])]];
    for (const list of bad) assert.throws(() => staticSource(list), InvalidPartitionError);
    const src = staticSource([P(['a'])]);
    for (const list of bad) assert.throws(() => src.update(list), InvalidPartitionError);
  });

  void it('sources - static rejects with AbortError when the signal is already aborted', async () => {
    const src = staticSource([P(['a'])]);
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(src.listPartitions(ac.signal), AbortError);
  });
});
