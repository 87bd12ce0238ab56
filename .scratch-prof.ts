import { consistentHash } from './src/strategies/index.js';
import { prepareInput } from './src/strategies/validate.js';
import { partitionHash, splitU64 } from './src/strategies/hash.js';
import { partitionId } from './src/types.js';
const workers = Array.from({ length: 200 }, (_, i) => `worker-${i}`);
const partitions = Array.from({ length: 10000 }, (_, i) => ({ keys: [`partition-${i}`], weight: 1 }));
const s = consistentHash();
function t(label: string, fn: () => unknown) { fn(); const xs: number[] = []; for (let i = 0; i < 15; i++) { const a = performance.now(); fn(); xs.push(performance.now() - a); } xs.sort((a, b) => a - b); console.log(label, xs[7]!.toFixed(2)); }
t('assign warm', () => s.assign({ workers, partitions }));
t('prepare', () => prepareInput('x', { workers, partitions }));
t('ids', () => { const set = new Set(); for (const p of partitions) set.add(partitionId(p)); });
t('sort', () => partitions.slice().sort((a, b) => (a.keys[0]! < b.keys[0]! ? -1 : 1)));
t('hash', () => { for (const p of partitions) partitionHash(p); });
t('hash+split', () => { for (const p of partitions) splitU64(partitionHash(p)); });
const b64 = new BigUint64Array(1); const b32 = new Uint32Array(b64.buffer);
let acc = 0;
t('hash+alias', () => { for (const p of partitions) { b64[0] = partitionHash(p); acc += b32[1]! + b32[0]!; } });
t('hash+shift', () => { for (const p of partitions) { const h = partitionHash(p); acc += Number(h >> 32n) + Number(h & 0xffffffffn); } });
