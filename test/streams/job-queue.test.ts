// LocalJobQueue: room (free slots plus the queue limit), FIFO leases, release to the head,
// cancel of queued and leased jobs, and Retry-After from measured run times.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { QueueFullError } from '../../src/streams/errors.js';
import { LocalJobQueue } from '../../src/streams/job-queue.js';

test('room is the free slots plus the queue limit; over it QueueFullError, unless not limited', () => {
  const q = new LocalJobQueue({ concurrency: 2, queueLimit: 1 });
  for (const id of ['a', 'b', 'c']) q.enqueue(id);
  assert.not.ok(q.hasRoom());
  assert.throws(() => q.enqueue('d'), (e: unknown) => e instanceof QueueFullError && e.retryAfterSeconds >= 1);
  q.enqueue('d', { limit: false });
  assert.is(q.depth, 4);
  q.take();
  q.take();
  assert.is(q.leased, 2);
  assert.is(q.depth, 2);
});

test('jobs are taken in order; a released job is the next one, with its attempt counted', () => {
  const q = new LocalJobQueue({ concurrency: 1, queueLimit: 5 });
  q.enqueue('a');
  q.enqueue('b');
  const a = q.take()!;
  assert.equal([a.sessionId, a.attempt], ['a', 1]);
  q.release(a);
  assert.not.ok(q.renew(a), 'a released lease is no longer held');
  const again = q.take()!;
  assert.equal([again.sessionId, again.attempt], ['a', 2]);
  assert.is(q.take()!.sessionId, 'b');
  assert.is(q.take(), null);
});

test('cancel removes a queued job, and tells the holder of a leased one', () => {
  const q = new LocalJobQueue({ concurrency: 2, queueLimit: 5 });
  const told: string[] = [];
  q.onCancel((id) => told.push(id));
  q.enqueue('a');
  q.enqueue('b');
  const a = q.take()!;
  q.cancel('b');
  assert.is(q.depth, 0);
  assert.equal(told, [], 'a queued job has no holder to tell');
  q.cancel('a');
  assert.equal(told, ['a']);
  assert.not.ok(q.renew(a));
  q.complete(a, 1000); // a late completion of a cancelled job changes nothing
  assert.is(q.leased, 0);
});

test('Retry-After: waves of the queue ahead times the measured run time', () => {
  const q = new LocalJobQueue({ concurrency: 1, queueLimit: 10 });
  q.enqueue('a');
  const a = q.take()!;
  assert.is(q.retryAfterSeconds(Date.now() + 3000), 3, 'before any job ended: as long as the running one has run');
  q.complete(a, 2000);
  for (const id of ['b', 'c', 'd']) q.enqueue(id);
  assert.is(q.retryAfterSeconds(), 8, '(3 queued + 1) waves of 2 s');
});

test('onReady is told of every queued job', () => {
  const q = new LocalJobQueue({ concurrency: 1, queueLimit: 1 });
  let ready = 0;
  q.onReady(() => ready++);
  q.enqueue('a');
  q.enqueue('b', { limit: false });
  assert.is(ready, 2);
});

test.run();
