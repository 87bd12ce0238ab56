import { sticky, checkAssignment } from './src/strategies/index.js';
const ws = (n: number) => Array.from({ length: n }, (_, i) => `worker-${i}`);
const partitions = Array.from({ length: 10000 }, (_, i) => ({ keys: [`partition-${i}`], weight: ((i * 2654435761) >>> 0) % 100 }));
for (const [a, b] of [[150, 200], [200, 150], [200, 200], [1, 200], [200, 1], [10, 200]] as const) {
  const prev = sticky().assign({ workers: ws(a), partitions });
  const t = performance.now();
  const r = sticky().assign({ workers: ws(b), partitions, previous: prev });
  const ms = performance.now() - t;
  checkAssignment('sticky', { workers: ws(b), partitions }, r);
  const loads = [...r.values()].map((l) => l.reduce((s, p) => s + (p.weight || 1), 0));
  const total = loads.reduce((x, y) => x + y, 0);
  console.log(a, '→', b, ms.toFixed(1), 'ms', 'max/avg', (Math.max(...loads) / (total / b)).toFixed(3), 'min/avg', (Math.min(...loads) / (total / b)).toFixed(3));
}
