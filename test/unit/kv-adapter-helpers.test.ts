// Pure helpers of the KV adapters: NATS error mapping, server version features, key syntax.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JetStreamApiError } from '@nats-io/jetstream';
import { errors as natsErrors } from '@nats-io/transport-node';
import { isValidFilter, isValidKey, keyMatches } from '../../src/adapters/key-pattern.js';
import { toPartiError } from '../../src/adapters/nats-errors.js';
import { parseServerVersion, serverFeatures } from '../../src/adapters/server-features.js';
import { KvError, KvUnavailableError, RevisionMismatchError } from '../../src/errors.js';

function apiError(errCode: number, code = 400): JetStreamApiError {
  return new JetStreamApiError({ code, err_code: errCode, description: 'server text that may change' });
}

describe('kv adapter helpers', () => {
  test('kv errors - wrong last sequence (10071, 10164) maps to RevisionMismatchError with the cause', () => {
    for (const code of [10071, 10164]) {
      const original = apiError(code);
      const e = toPartiError(original, 'update', 'lease.1');
      assert.ok(e instanceof RevisionMismatchError);
      assert.equal(e.code, 'REVISION_MISMATCH');
      assert.equal(e.key, 'lease.1');
      assert.equal(e.cause, original);
    }
  });

  test('kv errors - timeouts, no responders, closed and draining connections map to KvUnavailableError', () => {
    const cases: Error[] = [
      new natsErrors.TimeoutError(),
      new natsErrors.RequestError('no responders', { cause: new natsErrors.NoRespondersError('$JS.API.X') }),
      new natsErrors.ClosedConnectionError(),
      new natsErrors.DrainingConnectionError(),
      // how the JetStream client reports "no responders" (JetStream restarting): cause chain
      new Error('jetstream is not enabled', {
        cause: new natsErrors.RequestError('x', { cause: new natsErrors.NoRespondersError('$JS.API.X') }),
      }),
      apiError(10008, 503),
    ];
    for (const c of cases) {
      const e = toPartiError(c, 'get');
      assert.ok(e instanceof KvUnavailableError, `${c.name} → ${e.name}`);
      assert.equal(e.retriable, true);
      assert.equal(e.cause, c);
    }
  });

  test('kv errors - anything else maps to KvError; a PartiError passes through', () => {
    const other = apiError(10059, 404);
    const e = toPartiError(other, 'openBucket');
    assert.ok(e instanceof KvError);
    assert.equal(e.code, 'KV_ERROR');
    const already = new RevisionMismatchError('k');
    assert.equal(toPartiError(already, 'x'), already);
    assert.ok(toPartiError('a string', 'x') instanceof KvError);
  });

  test('server features - versions parse and expiry markers start at 2.11', () => {
    assert.deepEqual(parseServerVersion('2.10.27'), { major: 2, minor: 10, patch: 27 });
    assert.deepEqual(parseServerVersion('v2.11.0-RC.1'), { major: 2, minor: 11, patch: 0 });
    assert.equal(parseServerVersion('garbage'), null);
    assert.equal(serverFeatures('2.10.27').expiryMarkers, false);
    assert.equal(serverFeatures('2.11.0').expiryMarkers, true);
    assert.equal(serverFeatures('2.15.1').expiryMarkers, true);
    assert.equal(serverFeatures('3.0.0').expiryMarkers, true);
    assert.equal(serverFeatures('').expiryMarkers, false);
  });

  test('key pattern - keys, filters and NATS wildcard matching', () => {
    assert.ok(isValidKey('heartbeat.worker-1'));
    assert.ok(isValidKey('a/b=c_d'));
    for (const bad of ['', '.a', 'a.', 'a..b', 'a b', 'a.*', '>']) assert.equal(isValidKey(bad), false, bad);
    for (const ok of ['>', '*', 'a.*', 'a.>', 'a.*.c', 'a']) assert.ok(isValidFilter(ok), ok);
    for (const bad of ['a.>.b', 'a*', 'a.b>', '', 'a..b']) assert.equal(isValidFilter(bad), false, bad);
    assert.ok(keyMatches('>', 'a'));
    assert.ok(keyMatches('>', 'a.b.c'));
    assert.ok(keyMatches('a.>', 'a.b.c'));
    assert.equal(keyMatches('a.>', 'a'), false);
    assert.ok(keyMatches('a.*', 'a.b'));
    assert.equal(keyMatches('a.*', 'a.b.c'), false);
    assert.equal(keyMatches('a.*', 'a'), false);
    assert.ok(keyMatches('*.b', 'x.b'));
    assert.ok(keyMatches('a.b', 'a.b'));
    assert.equal(keyMatches('a.b', 'a.c'), false);
  });
});
