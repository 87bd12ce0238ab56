import { connectTo, startNats, waitFor } from './test/harness/index.js';
import { Kvm } from '@nats-io/kv';
import { jetstream } from '@nats-io/jetstream';
await using server = await startNats();
const [policy, markers, prefill] = [process.argv[2], process.argv[3] === 'm', process.argv[4] === 'p'];
let fails = 0;
const N = 300;
for (let i = 0; i < N; i++) {
  await using nc = await connectTo(server);
  const kv = await new Kvm(nc).create(`x${i}`, markers ? { history: 1, ttl: 60000, markerTTL: 60000 } : { history: 1, ttl: 60000 });
  if (prefill) await kv.put('other', '0');
  const js = jetstream(nc);
  const oc = await js.consumers.getPushConsumer(`KV_x${i}`, { filter_subjects: `$KV.x${i}.>`, deliver_policy: policy as never });
  const ev: number[] = [];
  const it = await oc.consume({ callback: (m) => { ev.push(m.seq); } });
  await kv.put('k', '1');
  await kv.delete('k');
  const want = prefill && policy !== 'new' ? 3 : 2;
  try {
    await waitFor(() => ev.length === want, { timeoutMs: 1000, what: 'events', intervalMs: 5 });
  } catch {
    fails++;
  }
  it.stop();
}
console.log(policy, markers ? 'markers' : 'plain', prefill ? 'prefilled' : 'empty', 'fails', fails, '/', N);
