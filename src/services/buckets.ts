/** Opens the four parti buckets with the TTLs parti Go uses (config is the single source). */
import type { KvStore } from '../adapters/kv-port.js';
import type { PartiConfig } from '../config.js';
import type { PartiBuckets } from './deps.js';

export async function openPartiBuckets(store: KvStore, config: PartiConfig): Promise<PartiBuckets> {
  const { buckets: b } = config;
  const replicas = b.replicas;
  // Sequential like parti Go: the first process to create a bucket fixes its config.
  const stableId = await store.openBucket({ name: b.stableId, ttlMs: config.workerIdTtl, replicas });
  // Expiry markers on the election bucket let followers contend as soon as a crashed leader's key expires.
  const election = await store.openBucket({
    name: b.election,
    ttlMs: config.electionTimeout,
    replicas,
    expiryMarkers: true,
  });
  const heartbeat = await store.openBucket({
    name: b.heartbeat,
    ttlMs: config.heartbeatTtl,
    replicas,
    expiryMarkers: true,
  });
  const assignment = await store.openBucket({ name: b.assignment, ttlMs: b.assignmentTtl, replicas });
  return { stableId, election, heartbeat, assignment };
}
