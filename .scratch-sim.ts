import { consistentHash, weightedConsistentHash, roundRobin, sticky } from './src/strategies/index.js';
import { partitionId, type Partition, type AssignmentStrategy, type AssignmentMap } from './src/types.js';
function parts(n: number): Partition[] { return Array.from({ length: n }, (_, i) => ({ keys: [`partition-${i}`], weight: 1 })); }
function ws(n: number): string[] { return Array.from({ length: n }, (_, i) => `worker-${i}`); }
function owners(m: AssignmentMap) { const o = new Map<string, string>(); for (const [w, l] of m) for (const p of l) o.set(partitionId(p), w); return o; }
const scen = [
  { name: 'P=2400 30→31', P: 2400, before: ws(30), after: ws(31), min: 1 / 31 },
  { name: 'P=2400 30→45', P: 2400, before: ws(30), after: ws(45), min: 15 / 45 },
  { name: 'P=2400 crash 7', P: 2400, before: ws(30), after: ws(30).filter((w) => w !== 'worker-7'), min: 1 / 30 },
  { name: 'P=64 8→9', P: 64, before: ws(8), after: ws(9), min: 1 / 9 },
  { name: 'P=64 crash 3', P: 64, before: ws(8), after: ws(8).filter((w) => w !== 'worker-3'), min: 1 / 8 },
];
const strats: AssignmentStrategy[] = [consistentHash(), weightedConsistentHash(), roundRobin(), sticky()];
for (const s of scen) {
  const P = parts(s.P);
  for (const st of strats) {
    const t0 = performance.now();
    const a = st.assign({ workers: s.before, partitions: P });
    const b = st.assign({ workers: s.after, partitions: P, previous: a });
    const c = st.assign({ workers: s.after, partitions: P, previous: b });
    const oa = owners(a), ob = owners(b), oc = owners(c);
    let moved = 0, again = 0; for (const [id, w] of ob) { if (oa.get(id) !== w) moved++; if (oc.get(id) !== w) again++; }
    const loads = [...b.values()].map((l) => l.length); const avg = s.P / s.after.length;
    const loadsA = [...a.values()].map((l) => l.length);
    console.log(s.name.padEnd(16), st.name.padEnd(26), 'moved', (moved / s.P).toFixed(3), 'ratio', (moved / s.P / s.min).toFixed(2), 'max/avg', (Math.max(...loads) / avg).toFixed(2), 'min/avg', (Math.min(...loads) / avg).toFixed(2), 'before max/avg', (Math.max(...loadsA) / (s.P / s.before.length)).toFixed(2), 'again', again, (performance.now() - t0).toFixed(0), 'ms');
  }
}
