/**
 * All options and their defaults in one place (parti Go's defaults), checked once in
 * createManager. Durations are milliseconds. An invalid option throws InvalidConfigError
 * naming the field and the rule; cross-field rules follow parti Go's Validate() order.
 */
import { z } from 'zod';
import { InvalidConfigError } from './errors.js';

const ms = (min = 1) => z.number().int().min(min);

/** Worker-ID prefixes must be valid KV key tokens without '.', which would break `heartbeat.*` watches. */
const KEY_TOKEN = /^[-/_=a-zA-Z0-9]+$/;
const BUCKET_NAME = /^[-_a-zA-Z0-9]+$/;

export const configSchema = z
  .object({
    workerIdPrefix: z.string().regex(KEY_TOKEN, 'must match [-/_=a-zA-Z0-9]+ (no dots)').default('worker'),
    workerIdMin: z.number().int().min(0).default(0),
    workerIdMax: z.number().int().min(0).default(99),
    workerIdTtl: ms(100).default(30_000),
    heartbeatInterval: ms(10).default(2_000),
    heartbeatTtl: ms(20).default(6_000),
    electionTimeout: ms(100).default(5_000),
    coldStartWindow: ms(0).default(30_000),
    plannedScaleWindow: ms(0).default(10_000),
    minRebalanceInterval: ms(1).default(10_000),
    /** Defaults to 1.5 × heartbeatInterval. */
    emergencyGracePeriod: ms(0).optional(),
    /**
     * A new leader uses the cold-start window when there was no assignment before, or when fewer
     * than this fraction of the previously assigned workers are alive (a group restart);
     * otherwise the planned-scale window.
     */
    restartDetectionRatio: z.number().min(0).max(1).default(0.5),
    /** start() rejects with TimeoutError if the worker is not Stable by then (0 = no limit). */
    startTimeout: ms(0).default(60_000),
    /** Base and cap of the retry backoff after a failed rebalance. */
    rebalanceRetryBase: ms(1).default(500),
    rebalanceRetryMax: ms(1).default(30_000),
    buckets: z
      .object({
        stableId: z.string().regex(BUCKET_NAME).default('parti-stableid'),
        election: z.string().regex(BUCKET_NAME).default('parti-election'),
        heartbeat: z.string().regex(BUCKET_NAME).default('parti-heartbeat'),
        assignment: z.string().regex(BUCKET_NAME).default('parti-assignment'),
        /** 0 = assignments never expire (parti Go's default). */
        assignmentTtl: ms(0).default(0),
        /** Replicas of every bucket created by this worker (1 by default; 3 recommended on a cluster). */
        replicas: z.number().int().min(1).max(5).default(1),
      })
      .prefault({}),
    degraded: z
      .object({
        /** Connection down this long → Degraded. */
        enterThreshold: ms(0).default(10_000),
        /** Connection up this long → leave Degraded. */
        exitThreshold: ms(0).default(5_000),
        /** After recovery the leader declares no emergency for this long. */
        recoveryGracePeriod: ms(0).default(15_000),
      })
      .prefault({}),
  })
  .strict();

export type PartiConfigInput = z.input<typeof configSchema>;
type Parsed = z.output<typeof configSchema>;
export type PartiConfig = Omit<Parsed, 'emergencyGracePeriod'> & { readonly emergencyGracePeriod: number };

/** Cross-field rules, in parti Go's order (first failure wins). */
const RULES: ReadonlyArray<readonly [field: string, rule: string, ok: (c: PartiConfig) => boolean]> = [
  ['heartbeatTtl', 'must be >= 2 × heartbeatInterval (allows one missed heartbeat)', (c) => c.heartbeatTtl >= 2 * c.heartbeatInterval],
  ['workerIdTtl', 'must be >= 3 × heartbeatInterval', (c) => c.workerIdTtl >= 3 * c.heartbeatInterval],
  ['workerIdTtl', 'must be >= heartbeatTtl', (c) => c.workerIdTtl >= c.heartbeatTtl],
  ['coldStartWindow', 'must be >= plannedScaleWindow', (c) => c.coldStartWindow >= c.plannedScaleWindow],
  ['minRebalanceInterval', 'must be <= coldStartWindow', (c) => c.minRebalanceInterval <= c.coldStartWindow],
  ['minRebalanceInterval', 'must be <= plannedScaleWindow', (c) => c.minRebalanceInterval <= c.plannedScaleWindow],
  ['emergencyGracePeriod', 'must be <= heartbeatTtl', (c) => c.emergencyGracePeriod <= c.heartbeatTtl],
  ['workerIdMax', 'must be >= workerIdMin', (c) => c.workerIdMax >= c.workerIdMin],
  ['rebalanceRetryMax', 'must be >= rebalanceRetryBase', (c) => c.rebalanceRetryMax >= c.rebalanceRetryBase],
];

/** Validate options and fill defaults. Throws InvalidConfigError naming the first offending field. */
export function resolveConfig(input: PartiConfigInput = {}): PartiConfig {
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.join('.') ?? '';
    // zod reports unknown keys on the parent object; name the key itself.
    const unknownKey = issue?.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
    const field = [path, unknownKey].filter(Boolean).join('.') || '(root)';
    throw new InvalidConfigError(field, issue?.message ?? 'invalid value', { cause: parsed.error });
  }
  const { emergencyGracePeriod, ...rest } = parsed.data;
  const config: PartiConfig = {
    ...rest,
    emergencyGracePeriod: emergencyGracePeriod ?? Math.round(1.5 * rest.heartbeatInterval),
  };
  for (const [field, rule, ok] of RULES) {
    if (!ok(config)) throw new InvalidConfigError(field, rule);
  }
  return config;
}

/**
 * Short timing profiles for tests and demos (parti Go's TestConfig values). Stated in one
 * place so tests and the CLI agree.
 */
export const timingPresets = {
  /** parti Go TestConfig: HB 500 ms, TTL 1.5 s, grace 750 ms. */
  test: {
    heartbeatInterval: 500,
    heartbeatTtl: 1_500,
    workerIdTtl: 5_000,
    electionTimeout: 2_000,
    coldStartWindow: 1_000,
    plannedScaleWindow: 500,
    minRebalanceInterval: 100,
    emergencyGracePeriod: 750,
  },
} as const satisfies Record<string, PartiConfigInput>;
