/**
 * Strategy benchmark: `npm run bench:strategies`. Prints markdown tables, asserts nothing.
 *
 * 1. Compute time (median of repeated runs) of each parti-ts strategy and of the npm libraries
 *    people use for this (hashring, consistent-hash, @subspace/jump-consistent-hash,
 *    skeleton-rendezvous) on the same inputs, for P ∈ {1 000, 10 000} × W ∈ {10, 100, 200}.
 * 2. Movement and balance for the scenarios of peers-and-targets §3.1.
 *
 * Worker IDs are `worker-<i>`, partitions `partition-<i>` (one key, weight 1 unless stated).
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { xxh3 } from '@node-rs/xxhash';
import {
  consistentHash,
  roundRobin,
  sticky,
  weightedConsistentHash,
} from '../src/strategies/index.js';
import { partitionId } from '../src/types.js';
import type { AssignmentMap, AssignmentStrategy, Partition } from '../src/types.js';

// ---- the libraries (CommonJS, untyped: loaded through require with the shapes we use) ----------
const require = createRequire(import.meta.url);
interface HashRingLib {
  get(key: string): string | undefined;
}
const HashRing = require('hashring') as new (servers: string[]) => HashRingLib;
interface ConsistentHashLib {
  add(node: string): ConsistentHashLib;
  remove(node: string): ConsistentHashLib;
  get(key: string): string;
}
const ConsistentHash = require('consistent-hash') as new () => ConsistentHashLib;
const { jumpConsistentHash } = require('@subspace/jump-consistent-hash') as {
  jumpConsistentHash: (key: Uint8Array, buckets: number) => number;
};
interface SkeletonLib {
  setSites(sites: string[]): void;
  findSite(key: string): string;
}
const Skeleton = require('skeleton-rendezvous') as new (opts?: object) => SkeletonLib;

function libVersion(name: string): string {
  const pkg = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string };
  return pkg.version;
}

// ---- a uniform "owner of each partition" view over strategies and libraries ------------------
type Owners = string[]; // owner of partitions[i]

interface Algo {
  readonly label: string;
  /** Owners for `workers`; `prev` is this algorithm's state from the previous step (movement runs). */
  run(workers: string[], partitions: Partition[], prev?: unknown): { owners: Owners; state?: unknown };
}

function ownersOf(result: AssignmentMap, partitions: Partition[]): Owners {
  const byId = new Map<string, string>();
  for (const [w, list] of result) for (const p of list) byId.set(partitionId(p), w);
  return partitions.map((p) => byId.get(partitionId(p)) as string);
}

function strategyAlgo(label: string, make: () => AssignmentStrategy): Algo {
  return {
    label,
    run(workers, partitions, prev) {
      const result = make().assign({ workers, partitions, previous: prev as AssignmentMap | undefined });
      return { owners: ownersOf(result, partitions), state: result };
    },
  };
}

/** 8 bytes (big-endian, as the package reads them) of XXH3(partition id). */
function jumpKey(id: string): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, xxh3.xxh64(id), false);
  return b;
}

/**
 * REFERENCE rendezvous (HRW) hashing written for this benchmark (not a package): each partition
 * goes to the worker with the highest XXH3(partition id, seed = XXH3(worker id)).
 */
function referenceHrw(workers: string[], partitions: Partition[]): Owners {
  const seeds = workers.map((w) => xxh3.xxh64(w));
  return partitions.map((p) => {
    const id = partitionId(p);
    let best = -1n;
    let owner = '';
    seeds.forEach((s, i) => {
      const h = xxh3.xxh64(id, s);
      if (h > best) [best, owner] = [h, workers[i] as string];
    });
    return owner;
  });
}

const libraries: Algo[] = [
  {
    label: `hashring ${libVersion('hashring')} (ketama, md5, 160 pts/worker)`,
    run(workers, partitions) {
      const ring = new HashRing(workers);
      return { owners: partitions.map((p) => ring.get(partitionId(p)) as string) };
    },
  },
  {
    // Control points are Math.random(): a fresh ring places everything differently, so movement
    // is measured the way the package is meant to be used — one instance, add()/remove().
    label: `consistent-hash ${libVersion('consistent-hash')} (random points, incremental)`,
    run(workers, partitions, prev) {
      let ch: ConsistentHashLib;
      if (prev === undefined) {
        ch = new ConsistentHash();
        for (const w of workers) ch.add(w);
      } else {
        const st = prev as { ch: ConsistentHashLib; workers: string[] };
        ch = st.ch;
        for (const w of st.workers) if (!workers.includes(w)) ch.remove(w);
        for (const w of workers) if (!st.workers.includes(w)) ch.add(w);
      }
      return { owners: partitions.map((p) => ch.get(partitionId(p))), state: { ch, workers } };
    },
  },
  {
    // Buckets must be 0…n−1: bucket i = i-th live worker in creation order.
    label: `@subspace/jump-consistent-hash ${libVersion('@subspace/jump-consistent-hash')} (XXH3 key)`,
    run(workers, partitions) {
      return { owners: partitions.map((p) => workers[jumpConsistentHash(jumpKey(partitionId(p)), workers.length)] as string) };
    },
  },
  {
    label: `skeleton-rendezvous ${libVersion('skeleton-rendezvous')} (md5, clusters of 16)`,
    run(workers, partitions) {
      const s = new Skeleton();
      s.setSites(workers);
      return { owners: partitions.map((p) => s.findSite(partitionId(p))) };
    },
  },
  {
    label: 'reference HRW, written here (XXH3; not a package)',
    run: (workers, partitions) => ({ owners: referenceHrw(workers, partitions) }),
  },
];

const parti: Algo[] = [
  strategyAlgo('parti-ts consistentHash (Go ring, 150 vn)', () => consistentHash()),
  strategyAlgo('parti-ts weightedConsistentHash (unit weights → ring)', () => weightedConsistentHash()),
  strategyAlgo('parti-ts roundRobin (sorted)', () => roundRobin()),
  strategyAlgo('parti-ts sticky (balanceFactor 1.25)', () => sticky()),
  strategyAlgo('parti-ts sticky (balanceFactor 1.1)', () => sticky({ balanceFactor: 1.1 })),
];

// ---- helpers --------------------------------------------------------------------------------------
const workerIds = (n: number): string[] => Array.from({ length: n }, (_, i) => `worker-${i}`);
const unitPartitions = (n: number): Partition[] =>
  Array.from({ length: n }, (_, i) => ({ keys: [`partition-${i}`], weight: 1 }));

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Median wall time in ms: ≥ 3 runs (after one warm-up), more while under ~400 ms in total, ≤ 25. */
function timeIt(fn: () => unknown): { ms: number; runs: number } {
  fn(); // warm-up (JIT, native module)
  const samples: number[] = [];
  let spent = 0;
  while (samples.length < 3 || (spent < 400 && samples.length < 25)) {
    const t = performance.now();
    fn();
    const d = performance.now() - t;
    samples.push(d);
    spent += d;
  }
  return { ms: median(samples), runs: samples.length };
}

const fmtMs = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

function table(header: string[], rows: string[][]): string {
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '--:')).join('|')}|`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

// ---- 1. compute time ---------------------------------------------------------------------------
function computeTable(): string {
  const sizes: [number, number][] = [];
  for (const P of [1000, 10000]) for (const W of [10, 100, 200]) sizes.push([P, W]);

  interface Col {
    label: string;
    /** Returns the function to time for (workers, partitions). */
    prepare(workers: string[], partitions: Partition[]): () => unknown;
  }
  const cols: Col[] = [
    {
      label: 'consistentHash, cold (ring built)',
      prepare: (workers, partitions) => () => consistentHash().assign({ workers, partitions }),
    },
    {
      label: 'consistentHash, warm (ring cached)',
      prepare: (workers, partitions) => {
        const s = consistentHash();
        return () => s.assign({ workers, partitions });
      },
    },
    {
      label: 'weightedConsistentHash, cold, weights 1…9',
      prepare: (workers, partitions) => {
        const mixed = partitions.map((p, i) => ({ ...p, weight: 1 + (i % 9) }));
        return () => weightedConsistentHash().assign({ workers, partitions: mixed });
      },
    },
    { label: 'roundRobin', prepare: (workers, partitions) => () => roundRobin().assign({ workers, partitions }) },
    {
      label: 'sticky, cold start (no previous)',
      prepare: (workers, partitions) => () => sticky().assign({ workers, partitions }),
    },
    {
      label: 'sticky, a worker joins (previous for W−1), ring cold',
      prepare: (workers, partitions) => {
        const previous = sticky().assign({ workers: workers.slice(0, -1), partitions });
        return () => sticky().assign({ workers, partitions, previous });
      },
    },
    ...libraries.map(
      (lib): Col => ({ label: lib.label, prepare: (workers, partitions) => () => lib.run(workers, partitions) }),
    ),
  ];

  const header = ['strategy / library', ...sizes.map(([P, W]) => `P=${P / 1000}k W=${W}`)];
  const rows: string[][] = [];
  for (const col of cols) {
    const row = [col.label];
    for (const [P, W] of sizes) {
      const fn = col.prepare(workerIds(W), unitPartitions(P));
      row.push(fmtMs(timeIt(fn).ms));
    }
    rows.push(row);
    process.stderr.write(`  timed ${col.label}\n`);
  }
  return table(header, rows);
}

// ---- 2. movement and balance -------------------------------------------------------------------
interface Scenario {
  label: string;
  P: number;
  before: string[];
  after: string[];
  /** Theoretical minimum fraction to move. */
  min: number;
}

const scenarios: Scenario[] = [
  { label: 'P=2400, 30→31', P: 2400, before: workerIds(30), after: workerIds(31), min: 1 / 31 },
  { label: 'P=2400, 30→45', P: 2400, before: workerIds(30), after: workerIds(45), min: 15 / 45 },
  {
    label: 'P=2400, crash worker-7',
    P: 2400,
    before: workerIds(30),
    after: workerIds(30).filter((w) => w !== 'worker-7'),
    min: 1 / 30,
  },
  { label: 'P=64, 8→9', P: 64, before: workerIds(8), after: workerIds(9), min: 1 / 9 },
  {
    label: 'P=64, crash worker-3',
    P: 64,
    before: workerIds(8),
    after: workerIds(8).filter((w) => w !== 'worker-3'),
    min: 1 / 8,
  },
];

function maxOverAvg(owners: Owners, workers: string[]): number {
  const counts = new Map<string, number>(workers.map((w) => [w, 0]));
  for (const o of owners) counts.set(o, (counts.get(o) ?? 0) + 1);
  return Math.max(...counts.values()) / (owners.length / workers.length);
}

function movementTables(): string {
  const algos = [...parti, ...libraries];
  const moved: string[][] = [];
  const balance: string[][] = [];
  for (const a of algos) {
    const mRow = [a.label];
    const bRow = [a.label];
    for (const s of scenarios) {
      const partitions = unitPartitions(s.P);
      const before = a.run(s.before, partitions);
      const after = a.run(s.after, partitions, before.state);
      let n = 0;
      before.owners.forEach((o, i) => {
        if (after.owners[i] !== o) n++;
      });
      const frac = n / s.P;
      mRow.push(`${frac.toFixed(3)} (${(frac / s.min).toFixed(2)}×)`);
      bRow.push(`${maxOverAvg(before.owners, s.before).toFixed(2)} → ${maxOverAvg(after.owners, s.after).toFixed(2)}`);
    }
    moved.push(mRow);
    balance.push(bRow);
  }
  const header = (what: string) => [what, ...scenarios.map((s) => `${s.label} (min ${s.min.toFixed(3)})`)];
  return [
    '### Fraction of partitions moved (× theoretical minimum)',
    '',
    table(header('strategy / library'), moved),
    '',
    '### Max/avg load, before → after',
    '',
    table(['strategy / library', ...scenarios.map((s) => s.label)], balance),
  ].join('\n');
}

// ---- main ------------------------------------------------------------------------------------------
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const started = performance.now();
console.log(`# parti-ts strategy benchmark\n`);
console.log(`node ${process.version}, ${cpu}, ${os.cpus().length} logical CPUs, ${os.platform()}/${os.arch()}\n`);
console.log(`## Compute time, ms (median; one warm-up, then 3–25 runs)\n`);
console.log(computeTable());
console.log(`\n## Movement and balance (peers-and-targets §3.1 scenarios)\n`);
console.log(movementTables());
console.log(`\n(total benchmark time ${((performance.now() - started) / 1000).toFixed(1)} s)`);
