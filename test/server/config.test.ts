// Cluster settings in loadConfig: REDIS_URL, ROLE, JOB_LEASE, MAX_ATTEMPTS, each refused with a
// one-line message naming the variable; and the process exits 2 with that line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../src/server/config.js';
import { spawnServer } from '../helpers/server.js';

test('defaults: no Redis, ROLE=all, 15 s lease, 3 attempts', () => {
  const c = loadConfig({});
  assert.is(c.redisUrl, null);
  assert.is(c.role, 'all');
  assert.is(c.jobLeaseMs, 15_000);
  assert.is(c.maxAttempts, 3);
});

test('accepted values: lease, attempts, REDIS_URL with any role', () => {
  const c = loadConfig({ JOB_LEASE: '2s', MAX_ATTEMPTS: '5' });
  assert.equal([c.jobLeaseMs, c.maxAttempts], [2000, 5]);
  const w = loadConfig({ REDIS_URL: 'redis://10.0.0.5:6380/2', ROLE: 'worker' });
  assert.equal([w.redisUrl, w.role], ['redis://10.0.0.5:6380/2', 'worker']);
  const a = loadConfig({ REDIS_URL: 'rediss://user:pw@cache.example:6379', ROLE: 'api' });
  assert.equal([a.redisUrl, a.role], ['rediss://user:pw@cache.example:6379', 'api']);
  assert.is(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379/0' }).role, 'all');
});

test('bad values are refused with one line naming the variable', () => {
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ REDIS_URL: 'localhost:6379' }, /^REDIS_URL: /],
    [{ REDIS_URL: 'http://localhost:6379' }, /^REDIS_URL: /],
    [{ REDIS_URL: 'redis://localhost:6379/db' }, /^REDIS_URL: /],
    [{ ROLE: 'master' }, /^ROLE: expected all, api or worker/],
    [{ ROLE: 'api' }, /^ROLE=api needs REDIS_URL/],
    [{ ROLE: 'worker' }, /^ROLE=worker needs REDIS_URL/],
    [{ JOB_LEASE: 'soon' }, /^JOB_LEASE: /],
    [{ JOB_LEASE: '10ms' }, /^JOB_LEASE: must be at least/],
    [{ MAX_ATTEMPTS: '0' }, /^MAX_ATTEMPTS: /],
  ];
  for (const [env, re] of bad) {
    try {
      loadConfig(env);
      assert.unreachable(`accepted ${JSON.stringify(env)}`);
    } catch (err) {
      const msg = (err as Error).message;
      assert.match(msg, re, JSON.stringify(env));
      assert.not.match(msg, /\n/);
    }
  }
});

test('npm start exits 2 with the line', async () => {
  const err = await spawnServer({ ROLE: 'worker', REDIS_URL: '' }).then(
    () => null,
    (e) => e,
  );
  assert.ok(err, 'server started without REDIS_URL as a worker');
  assert.is(err.exitCode, 2);
  assert.match(err.message, /ROLE=worker needs REDIS_URL/);
});

test.run();
