/**
 * Contract between the leader's calculator machine, its services and the worker machine.
 * The calculator is invoked by the worker while it leads (`systemId: 'calculator'`); it
 * reports its state with `calculator.state` (sendParent) and takes REFRESH commands.
 */
import type { Assignment, CalculatorState, Lifecycle, Partition } from '../types.js';

/** Timings the calculator needs (a slice of PartiConfig, in ms). */
export interface CalculatorTimings {
  readonly coldStartWindow: number;
  readonly plannedScaleWindow: number;
  readonly minRebalanceInterval: number;
  readonly emergencyGracePeriod: number;
  readonly heartbeatTtl: number;
  readonly restartDetectionRatio: number;
  readonly rebalanceRetryBase: number;
  readonly rebalanceRetryMax: number;
  /** After a NATS outage the leader declares no emergency for this long. */
  readonly recoveryGracePeriod: number;
}

export interface CalculatorInput {
  readonly workerId: string;
  /** Leader epoch: revision of the `leader` key when leadership was won. Written into every assignment. */
  readonly epoch: number;
  readonly timings: CalculatorTimings;
}

/** Membership as seen by the leader's heartbeat watch (services/membership). */
export type MembershipEvent =
  /** Live workers right now (initial listing, and each periodic listing on servers without expiry markers). */
  | { readonly type: 'membership.snapshot'; readonly workers: readonly string[] }
  /** A heartbeat PUT from a worker not currently known as live. */
  | { readonly type: 'membership.joined'; readonly workerId: string }
  /** A heartbeat DEL: the worker stopped gracefully. */
  | { readonly type: 'membership.left'; readonly workerId: string }
  /** The heartbeat expired (PURGE marker, or missing from a listing): presumed crashed. */
  | { readonly type: 'membership.expired'; readonly workerId: string };

/** What the leader found in the assignment bucket when it took over. */
export interface DiscoveredAssignments {
  /** Highest version found (0 when none); the next publish uses max + 1. */
  readonly maxVersion: number;
  /** Current assignment per worker key found (used as `previous` for sticky strategies). */
  readonly previous: Readonly<Record<string, readonly Partition[]>>;
}

export interface RebalanceInput {
  readonly workers: readonly string[];
  readonly lifecycle: Lifecycle;
  readonly version: number;
  readonly epoch: number;
  readonly previous: Readonly<Record<string, readonly Partition[]>>;
}

export interface RebalanceOutput {
  readonly version: number;
  readonly assignments: Readonly<Record<string, readonly Partition[]>>;
}

/** Events the calculator sends to its parent (the worker machine). */
export type CalculatorToParentEvent =
  | { readonly type: 'calculator.state'; readonly state: CalculatorState }
  | { readonly type: 'calculator.published'; readonly version: number; readonly lifecycle: Lifecycle; readonly workers: readonly string[] }
  | { readonly type: 'calculator.error'; readonly error: Error };

/** Commands the worker forwards to the calculator. */
export type CalculatorCommand =
  | { readonly type: 'REFRESH' }
  /** The worker's connection to NATS recovered: suppress emergencies for recoveryGracePeriod. */
  | { readonly type: 'RECOVERED' };

export type { Assignment };
