// LocalJobQueue: room (free slots plus the queue limit), FIFO leases, release to the head,
// cancel of queued and leased jobs, and Retry-After from measured run times.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { QueueFullError } from '../../src/streams/errors.js';
import { LocalJobQueue } from '../../src/streams/job-queue.js';

test('room is the free slots plus the queue limit; over it QueueFullError, unless not limited', async () => {
  const q = new LocalJobQueue({ concurrency: 2, queueLimit: 1 });
  for (const id of ['a', 'b', 'c']) await q.enqueue(id);
  assert.not.ok(await q.hasRoom());
  const err = await q.enqueue('d').then(() => null, (e: unknown) => e);
  assert.ok(err instanceof QueueFullError && err.retryAfterSeconds >= 1);
  await q.enqueue('d', { limit: false });
  assert.is(await q.depth(), 4);
  await q.take();
  await q.take();
  assert.is(q.leased, 2);
  assert.is(await q.depth(), 2);
});

test('jobs are taken in order; a released job is the next one, with its attempt counted', async () => {
  const q = new LocalJobQueue({ concurrency: 1, queueLimit: 5 });
  await q.enqueue('a');
  await q.enqueue('b');
  const a = (await q.take())!;
  assert.equal([a.sessionId, a.attempt], ['a', 1]);
  assert.ok(await q.renew(a), 'a held lease renews');
  await q.release(a);
  assert.not.ok(await q.renew(a), 'a released lease is no longer held');
  const again = (await q.take())!;
  assert.equal([again.sessionId, again.attempt], ['a', 2]);
  assert.is((await q.take())!.sessionId, 'b');
  assert.is(await q.take(), null);
});

test('cancel removes a queued job, and tells the holder of a leased one', async () => {
  const q = new LocalJobQueue({ concurrency: 2, queueLimit: 5 });
  const told: string[] = [];
  q.onCancel((id) => told.push(id));
  await q.enqueue('a');
  await q.enqueue('b');
  const a = (await q.take())!;
  await q.cancel('b');
  assert.is(await q.depth(), 0);
  assert.equal(told, [], 'a queued job has no holder to tell');
  await q.cancel('a');
  assert.equal(told, ['a']);
  assert.not.ok(await q.renew(a));
  await q.complete(a, 1000); // a late completion of a cancelled job changes nothing
  assert.is(q.leased, 0);
});

test('Retry-After: waves of the queue ahead times the measured run time', async () => {
  const q = new LocalJobQueue({ concurrency: 1, queueLimit: 10 });
  await q.enqueue('a');
  const a = (await q.take())!;
  assert.is(await q.retryAfterSeconds(Date.now() + 3000), 3, 'before any job ended: as long as the running one has run');
  await q.complete(a, 2000);
  for (const id of ['b', 'c', 'd']) await q.enqueue(id);
  assert.is(await q.retryAfterSeconds(), 8, '(3 queued + 1) waves of 2 s');
});

test('onReady is told of every queued job', async () => {
  const q = new LocalJobQueue({ concurrency: 1, queueLimit: 1 });
  let ready = 0;
  q.onReady(() => ready++);
  await q.enqueue('a');
  await q.enqueue('b', { limit: false });
  assert.is(ready, 2);
});

test.run();
