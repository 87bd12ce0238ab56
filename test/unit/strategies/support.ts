/** Shared arbitraries and helpers for the strategy tests (not a test file itself). */
import fc from 'fast-check';
import { partitionId } from '../../../src/types.js';
import type { AssignmentMap, Partition } from '../../../src/types.js';

/** Worker IDs, unique, 1…maxWorkers of them. Includes non-ASCII IDs to exercise byte order. */
export function workersArb(maxWorkers = 24): fc.Arbitrary<string[]> {
  return fc.uniqueArray(
    fc.oneof(
      { weight: 8, arbitrary: fc.nat({ max: 60 }).map((n) => `worker-${n}`) },
      { weight: 1, arbitrary: fc.constantFrom('ä', 'z', '\u{1F600}', '\uE000', 'w') },
    ),
    { minLength: 1, maxLength: maxWorkers },
  );
}

const keyArb = fc.oneof(
  { weight: 6, arbitrary: fc.nat({ max: 400 }).map((n) => `p${n}`) },
  { weight: 1, arbitrary: fc.constantFrom('orders', 'tenant', '', 'é') },
);

/** Partitions with unique ids, 0…maxPartitions, weights drawn by `weight`. */
export function partitionsArb(
  maxPartitions = 120,
  weight: fc.Arbitrary<number> = fc.nat({ max: 12 }),
): fc.Arbitrary<Partition[]> {
  return fc
    .uniqueArray(fc.array(keyArb, { minLength: 1, maxLength: 3 }), {
      maxLength: maxPartitions,
      selector: (keys) => keys.join('-'),
    })
    .chain((keyLists) =>
      fc.tuple(...keyLists.map(() => weight)).map((ws) =>
        keyLists.map((keys, i): Partition => ({ keys, weight: ws[i] as number })),
      ),
    );
}

/** Deterministic Fisher–Yates with a small LCG: a permutation of `xs` chosen by `seed`. */
export function permute<T>(xs: readonly T[], seed: number): T[] {
  const out = xs.slice();
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** A comparable, order-preserving view of a result: [worker, [ids…]] in map order. */
export function view(m: AssignmentMap): [string, string[]][] {
  return Array.from(m, ([w, list]) => [w, list.map(partitionId)]);
}

/** Partition id → worker. */
export function owners(m: ReadonlyMap<string, readonly Partition[]>): Map<string, string> {
  const o = new Map<string, string>();
  for (const [w, list] of m) for (const p of list) o.set(partitionId(p), w);
  return o;
}

/** Worker → summed weight, with `weightOf` for effective weights. */
export function loads(m: AssignmentMap, weightOf: (p: Partition) => number): Map<string, number> {
  const out = new Map<string, number>();
  for (const [w, list] of m) out.set(w, list.reduce((s, p) => s + weightOf(p), 0));
  return out;
}

export function numbered(prefix: string, n: number, from = 0): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${i + from}`);
}

export function unitPartitions(n: number): Partition[] {
  return Array.from({ length: n }, (_, i) => ({ keys: [`partition-${i}`], weight: 1 }));
}
