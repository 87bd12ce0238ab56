/**
 * Binds the real services to the worker and calculator machines. This is the one place that
 * says which implementation backs each named actor; tests provide fakes instead.
 */
import { calculatorMachine } from '../machines/calculator.machine.js';
import type { workerMachine } from '../machines/worker.machine.js';
import { createAssignmentDiscovery } from './assignment-discovery.service.js';
import { createAssignmentWatch } from './assignment-watch.service.js';
import { createConnectionHealth } from './connection-health.service.js';
import type { ServiceDeps } from './deps.js';
import { createElection } from './election.service.js';
import { createHeartbeat } from './heartbeat.service.js';
import { createLeaseRenewal } from './lease-renewal.service.js';
import { createMembershipWatch } from './membership.service.js';
import { createRebalance } from './rebalance.service.js';
import { createClaimStableId } from './stable-id.service.js';
import { createTeardown } from './teardown.service.js';

/** The calculator machine with its real services. */
export function provideCalculatorServices(deps: ServiceDeps) {
  return calculatorMachine.provide({
    actors: {
      membershipWatch: createMembershipWatch(deps),
      discoverAssignments: createAssignmentDiscovery(deps),
      rebalance: createRebalance(deps),
    },
  });
}

/** The worker machine with its real services (the calculator included). */
export function provideWorkerServices(machine: typeof workerMachine, deps: ServiceDeps) {
  return machine.provide({
    actors: {
      claimStableId: createClaimStableId(deps),
      leaseRenewal: createLeaseRenewal(deps),
      heartbeat: createHeartbeat(deps),
      election: createElection(deps),
      assignmentWatch: createAssignmentWatch(deps),
      connectionHealth: createConnectionHealth(deps),
      calculator: provideCalculatorServices(deps),
      teardown: createTeardown(deps),
    },
  });
}
