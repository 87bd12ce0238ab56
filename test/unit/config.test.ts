import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidConfigError } from '../../src/errors.js';
import { resolveConfig, timingPresets, type PartiConfigInput } from '../../src/config.js';

function rejects(input: PartiConfigInput, field: string): InvalidConfigError {
  try {
    resolveConfig(input);
  } catch (e) {
    assert.ok(e instanceof InvalidConfigError, `expected InvalidConfigError, got ${String(e)}`);
    assert.equal(e.code, 'INVALID_CONFIG');
    assert.equal(e.field, field);
    return e;
  }
  assert.fail(`config ${JSON.stringify(input)} was accepted`);
}

void describe('config', () => {
  void it("config - defaults are parti Go's", () => {
    const c = resolveConfig();
    assert.equal(c.workerIdPrefix, 'worker');
    assert.equal(c.workerIdMin, 0);
    assert.equal(c.workerIdMax, 99);
    assert.equal(c.workerIdTtl, 30_000);
    assert.equal(c.heartbeatInterval, 2_000);
    assert.equal(c.heartbeatTtl, 6_000);
    assert.equal(c.electionTimeout, 5_000);
    assert.equal(c.coldStartWindow, 30_000);
    assert.equal(c.plannedScaleWindow, 10_000);
    assert.equal(c.minRebalanceInterval, 10_000);
    assert.equal(c.emergencyGracePeriod, 3_000);
    assert.deepEqual(
      [c.buckets.stableId, c.buckets.election, c.buckets.heartbeat, c.buckets.assignment, c.buckets.replicas],
      ['parti-stableid', 'parti-election', 'parti-heartbeat', 'parti-assignment', 1],
    );
  });

  void it('config - the emergency grace defaults to 1.5 × heartbeatInterval', () => {
    assert.equal(resolveConfig({ heartbeatInterval: 500, heartbeatTtl: 1_500, workerIdTtl: 5_000 }).emergencyGracePeriod, 750);
    assert.equal(resolveConfig({ emergencyGracePeriod: 100 }).emergencyGracePeriod, 100);
  });

  void it('config - cross-field rules name the offending field', () => {
    rejects({ heartbeatInterval: 2_000, heartbeatTtl: 3_000 }, 'heartbeatTtl');
    rejects({ heartbeatInterval: 2_000, workerIdTtl: 5_000 }, 'workerIdTtl');
    rejects({ heartbeatTtl: 40_000, workerIdTtl: 30_000 }, 'workerIdTtl');
    rejects({ coldStartWindow: 5_000, plannedScaleWindow: 10_000, minRebalanceInterval: 1_000 }, 'coldStartWindow');
    rejects({ minRebalanceInterval: 40_000 }, 'minRebalanceInterval');
    rejects({ emergencyGracePeriod: 7_000 }, 'emergencyGracePeriod');
    rejects({ workerIdMin: 10, workerIdMax: 5 }, 'workerIdMax');
  });

  void it('config - field rules, unknown keys and nested fields', () => {
    rejects({ workerIdPrefix: 'has.dot' }, 'workerIdPrefix');
    rejects({ heartbeatInterval: -1 }, 'heartbeatInterval');
    rejects({ heartbeatInterval: 1.5 }, 'heartbeatInterval');
    rejects({ buckets: { replicas: 0 } }, 'buckets.replicas');
    rejects({ buckets: { heartbeat: 'bad name' } }, 'buckets.heartbeat');
    rejects({ degraded: { enterThreshold: -5 } }, 'degraded.enterThreshold');
    const e = rejects({ heartbeatIntervall: 100 } as PartiConfigInput, 'heartbeatIntervall');
    assert.match(e.message, /heartbeatIntervall/);
  });

  void it('config - the test timing preset is valid', () => {
    const c = resolveConfig(timingPresets.test);
    assert.equal(c.heartbeatInterval, 500);
    assert.equal(c.emergencyGracePeriod, 750);
  });
});
