/**
 * Command-line parsing for `parti-ts`: durations ("500ms", "2s", "1.5s", "1m"), integers and the
 * flags of the `worker` and `demo` commands (node:util parseArgs, strict). Every problem is a
 * UsageError (exit code 2); nothing here does I/O.
 */
import { parseArgs } from 'node:util';
import type { PartiConfigInput } from '../config.js';

/** A bad command line: unknown flag, missing or malformed value. The CLI exits with code 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  /** The flag at fault, when known ("--heartbeat-ttl"). */
  readonly flag: string | undefined;
  constructor(message: string, flag?: string) {
    super(message);
    this.name = 'UsageError';
    this.flag = flag;
  }
}

/** A duration that does not parse. */
export class DurationParseError extends UsageError {
  readonly input: string;
  constructor(input: string, flag?: string) {
    super(
      `${flag ? `${flag}: ` : ''}invalid duration ${JSON.stringify(input)} (expected a number with a unit: 500ms, 2s, 1.5s, 1m, 1h)`,
      flag,
    );
    this.name = 'DurationParseError';
    this.input = input;
  }
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const DURATION = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)$/;

/**
 * Parses "500ms", "2s", "1.5s", "1m", "1h" (and a bare "0") into whole milliseconds.
 * Throws DurationParseError on anything else, including negative values and fractions of a ms.
 */
export function parseDuration(input: string, flag?: string): number {
  const text = input.trim();
  if (text === '0') return 0;
  const m = DURATION.exec(text);
  const unit = m?.[2] === undefined ? undefined : UNIT_MS[m[2]];
  if (!m?.[1] || unit === undefined) throw new DurationParseError(input, flag);
  const value = Number(m[1]) * unit;
  // Round away floating-point noise (1.1s = 1100.0000000000002), then insist on whole ms.
  const rounded = Math.round(value * 1e6) / 1e6;
  if (!Number.isSafeInteger(rounded)) throw new DurationParseError(input, flag);
  return rounded;
}

/** Formats milliseconds for people: "850 ms", "2.1 s", "1 m 5 s". */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1_000);
  return s ? `${m} m ${s} s` : `${m} m`;
}

/** Parses a base-10 integer in [min, max]. */
export function parseInteger(input: string, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const text = input.trim();
  if (!/^-?\d+$/.test(text)) throw new UsageError(`${flag}: expected an integer, got ${JSON.stringify(input)}`, flag);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag}: must be an integer between ${min} and ${max}, got ${text}`, flag);
  }
  return n;
}

export const STRATEGY_NAMES = ['consistent', 'weighted', 'roundrobin', 'sticky'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Duration flags of `worker` and the config option each one sets. */
export const DURATION_FLAGS = {
  'worker-id-ttl': 'workerIdTtl',
  'heartbeat-interval': 'heartbeatInterval',
  'heartbeat-ttl': 'heartbeatTtl',
  'election-timeout': 'electionTimeout',
  'cold-start-window': 'coldStartWindow',
  'planned-scale-window': 'plannedScaleWindow',
  'min-rebalance-interval': 'minRebalanceInterval',
  'emergency-grace': 'emergencyGracePeriod',
} as const satisfies Record<string, keyof PartiConfigInput>;
type DurationFlag = keyof typeof DURATION_FLAGS;

/** The flag that sets a config field (for error messages), e.g. heartbeatTtl → --heartbeat-ttl. */
export function flagForConfigField(field: string): string | undefined {
  if (field === 'workerIdPrefix') return '--worker-id-prefix';
  if (field === 'workerIdMax') return '--worker-id-max';
  for (const [flag, key] of Object.entries(DURATION_FLAGS)) if (key === field) return `--${flag}`;
  return undefined;
}

export interface WorkerArgs {
  readonly help: boolean;
  readonly nats: string;
  readonly partitions: number;
  /** Undefined: the library default strategy. */
  readonly strategy: StrategyName | undefined;
  /** Only the options given on the command line; the library fills in the rest. */
  readonly config: PartiConfigInput;
  readonly json: boolean;
  readonly logLevel: LogLevel;
}

export const WORKER_USAGE = `Usage: parti-ts worker --nats <url> --partitions <n> [options]

Runs one worker of a group and prints its state and assignment.

Options:
  --nats <url>                    NATS server URL(s), comma-separated (required)
  --partitions <n>                number of partitions partition-0 … partition-<n-1> (required)
  --strategy <name>               consistent | weighted | roundrobin | sticky (default: library default)
  --worker-id-prefix <prefix>     worker ID prefix (default worker)
  --worker-id-max <n>             highest worker ID number (default 99)
  --worker-id-ttl <d>             stable-ID lease TTL (default 30s)
  --heartbeat-interval <d>        heartbeat period (default 2s)
  --heartbeat-ttl <d>             heartbeat TTL (default 6s)
  --election-timeout <d>          leader lease TTL (default 5s)
  --cold-start-window <d>         cold-start window (default 30s)
  --planned-scale-window <d>      planned-scale window (default 10s)
  --min-rebalance-interval <d>    rebalance cooldown (default 10s)
  --emergency-grace <d>           emergency grace period (default 1.5 × heartbeat interval)
  --json                          one JSON object per line on stdout
  --log-level <level>             library log level on stderr (default warn)
  -h, --help                      show this help

Durations: 500ms, 2s, 1.5s, 1m.`;

/** Runs a parseArgs call, turning its TypeError (ERR_PARSE_ARGS_*) into a UsageError. */
function guard<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      throw new UsageError((err as Error).message);
    }
    throw err;
  }
}

export function parseWorkerArgs(argv: readonly string[]): WorkerArgs {
  const { values } = guard(() =>
    parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        nats: { type: 'string' },
        partitions: { type: 'string' },
        strategy: { type: 'string' },
        'worker-id-prefix': { type: 'string' },
        'worker-id-max': { type: 'string' },
        'worker-id-ttl': { type: 'string' },
        'heartbeat-interval': { type: 'string' },
        'heartbeat-ttl': { type: 'string' },
        'election-timeout': { type: 'string' },
        'cold-start-window': { type: 'string' },
        'planned-scale-window': { type: 'string' },
        'min-rebalance-interval': { type: 'string' },
        'emergency-grace': { type: 'string' },
        json: { type: 'boolean' },
        'log-level': { type: 'string' },
      },
    }),
  );
  const json = values.json === true;
  const logLevel = parseLogLevel(values['log-level']);
  if (values.help === true) {
    return { help: true, nats: '', partitions: 0, strategy: undefined, config: {}, json, logLevel };
  }
  if (values.nats === undefined || values.nats.trim() === '') throw new UsageError('--nats <url> is required', '--nats');
  if (values.partitions === undefined) throw new UsageError('--partitions <n> is required', '--partitions');
  const partitions = parseInteger(values.partitions, '--partitions', 0, 1_000_000);

  let strategy: StrategyName | undefined;
  if (values.strategy !== undefined) {
    if (!(STRATEGY_NAMES as readonly string[]).includes(values.strategy)) {
      throw new UsageError(
        `--strategy: unknown strategy ${JSON.stringify(values.strategy)} (expected ${STRATEGY_NAMES.join(' | ')})`,
        '--strategy',
      );
    }
    strategy = values.strategy as StrategyName;
  }

  const config: { -readonly [K in keyof PartiConfigInput]: PartiConfigInput[K] } = {};
  if (values['worker-id-prefix'] !== undefined) config.workerIdPrefix = values['worker-id-prefix'];
  if (values['worker-id-max'] !== undefined) {
    config.workerIdMax = parseInteger(values['worker-id-max'], '--worker-id-max', 0);
  }
  for (const flag of Object.keys(DURATION_FLAGS) as DurationFlag[]) {
    const raw = values[flag];
    if (raw !== undefined) config[DURATION_FLAGS[flag]] = parseDuration(raw, `--${flag}`);
  }

  return {
    help: false,
    nats: values.nats,
    partitions,
    strategy,
    config,
    json,
    logLevel,
  };
}

function parseLogLevel(raw: string | undefined): LogLevel {
  if (raw === undefined) return 'warn';
  if (!(LOG_LEVELS as readonly string[]).includes(raw)) {
    throw new UsageError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}`, '--log-level');
  }
  return raw as LogLevel;
}

export interface DemoArgs {
  readonly help: boolean;
  readonly workers: number;
  readonly partitions: number;
  /** Undefined: run until Ctrl-C. */
  readonly durationMs: number | undefined;
  readonly strategy: StrategyName | undefined;
}

export const DEMO_USAGE = `Usage: parti-ts demo [--workers 4] [--partitions 64] [--duration <d>] [--strategy <name>]

Starts a local nats-server and a group of worker processes, shows their states live, kills one
worker (SIGKILL) once the group is stable, then adds a new one. Runs until Ctrl-C or --duration.

Options:
  --workers <n>       workers to start (default 4, 1-20)
  --partitions <n>    partitions to share (default 64)
  --duration <d>      stop after this long (e.g. 30s, 2m); default: until Ctrl-C
  --strategy <name>   consistent | weighted | roundrobin | sticky (default: library default)
  -h, --help          show this help`;

export function parseDemoArgs(argv: readonly string[]): DemoArgs {
  const { values } = guard(() =>
    parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        workers: { type: 'string' },
        partitions: { type: 'string' },
        duration: { type: 'string' },
        strategy: { type: 'string' },
      },
    }),
  );
  let strategy: StrategyName | undefined;
  if (values.strategy !== undefined) {
    if (!(STRATEGY_NAMES as readonly string[]).includes(values.strategy)) {
      throw new UsageError(`--strategy: expected ${STRATEGY_NAMES.join(' | ')}`, '--strategy');
    }
    strategy = values.strategy as StrategyName;
  }
  return {
    help: values.help === true,
    workers: values.workers === undefined ? 4 : parseInteger(values.workers, '--workers', 1, 20),
    partitions: values.partitions === undefined ? 64 : parseInteger(values.partitions, '--partitions', 1, 100_000),
    durationMs: values.duration === undefined ? undefined : parseDuration(values.duration, '--duration'),
    strategy,
  };
}
