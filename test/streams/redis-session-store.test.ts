// RedisSessionStore and RedisSession against a real redis-server, two store instances in one
// process standing for two nodes (own connections, own log reader, shared DATA_DIR): gapless
// logs under concurrent appends from both nodes, live follow across nodes in seq order, replay
// from a seq, terminal refusal and the `from` condition, list/count/expiry/results/remove, and a
// Redis restart under writers and followers.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { firstValueFrom, toArray } from 'rxjs';
import type { SessionEvent } from '../../src/streams/events.js';
import { RedisConnection } from '../../src/streams/redis/connection.js';
import { RedisSessionStore } from '../../src/streams/redis/session-store.js';
import type { Session } from '../../src/streams/session.js';
import type { NewSession } from '../../src/streams/stores.js';
import { cuttingProxy } from '../helpers/proxy.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { tempDir } from '../helpers/server.js';

let redis: TestRedis;
let dataDir: string;
const open: Array<{ close(): Promise<void> }> = [];
let prefixN = 0;

async function twoNodes(): Promise<[RedisSessionStore, RedisSessionStore]> {
  const prefix = `s${++prefixN}:`;
  const make = async (node: string) => {
    const conn = new RedisConnection({ url: redis.url, prefix });
    await conn.ready();
    const store = new RedisSessionStore(conn, { nodeId: node, dataDir, retryWindowMs: 20_000 });
    open.push(conn, store); // closed in reverse: the store first
    await store.listening;
    return store;
  };
  return [await make('a'), await make('b')];
}

const spec = (over: Partial<NewSession> = {}): NewSession => ({ analysisType: 'highlights', params: {}, filename: 'v.mp4', ...over });

/** Resolves once the replica's log reaches seq n. */
function reach(session: Session, n: number): Promise<void> {
  if (session.lastSeq >= n) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`log stayed at ${session.lastSeq}, expected ${n}`)), 20_000);
    const sub = session.eventsSince(session.lastSeq).subscribe((ev) => {
      if (ev.seq < n) return;
      clearTimeout(t);
      sub.unsubscribe();
      resolve();
    });
  });
}

const seqs = (events: SessionEvent[]) => events.map((e) => e.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test.before(async () => {
  redis = await startRedis({ appendonly: 'everysec' });
  dataDir = tempDir('vas-redis-store-');
});

test.after(async () => {
  for (const c of open.reverse()) await c.close();
  await redis.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('a session created on one node is there on the other, with its log; unknown ids are not', async () => {
  const [a, b] = await twoNodes();
  const s = await a.create(spec(), 'pending');
  assert.is(s.lastSeq, 1);
  assert.ok(fs.existsSync(path.join(dataDir, 'sessions', s.id)), 'its folder on the shared DATA_DIR');
  const onB = (await b.get(s.id))!;
  assert.equal(onB.meta, s.meta);
  assert.equal(onB.history(), s.history());
  assert.is(onB.state.status, 'pending');
  assert.is(await b.get('A'.repeat(21)), undefined);
  assert.is(await b.get('../etc'), undefined);
  assert.is(await b.get(s.id), onB, 'one replica per node');
});

test('appends from two nodes at once give one gapless log, each event once and each node’s in call order, on both nodes', async () => {
  const [a, b] = await twoNodes();
  const s = await a.create(spec(), 'processing');
  const onB = (await b.get(s.id))!;
  const N = 150;
  const writes: Array<Promise<SessionEvent | null>> = [];
  for (let i = 0; i < N; i++) {
    // not awaited one by one: the scheduler's progress writer does the same
    writes.push(s.append('progress', { node: 'a', i }));
    writes.push(onB.append('progress', { node: 'b', i }));
  }
  const written = await Promise.all(writes);
  assert.ok(written.every((e) => e !== null));
  const last = 1 + 2 * N;
  await Promise.all([reach(s, last), reach(onB, last)]);
  for (const replica of [s, onB]) {
    const log = replica.history();
    assert.equal(seqs(log), range(1, last));
    for (const node of ['a', 'b']) {
      const mine = log.filter((e) => e.data.node === node).map((e) => e.data.i);
      assert.equal(mine, range(0, N - 1), `node ${node}: each event once, in call order`);
    }
  }
  assert.equal(onB.history(), s.history(), 'the same log on both nodes');
});

test('a follower on node B sees node A’s events live, in order, to the terminal event', async () => {
  const [a, b] = await twoNodes();
  const s = await a.create(spec(), 'pending');
  const onB = (await b.get(s.id))!;
  const followed = firstValueFrom(onB.eventsSince(0).pipe(toArray()));
  await s.transition('processing');
  for (let i = 0; i < 40; i++) void s.append('segment', { index: i });
  assert.ok(await s.transition('completed', { highlights_found: 2 }));
  const events = await followed;
  assert.equal(seqs(events), range(1, 44));
  assert.equal(events, s.history());
  assert.is(onB.state.status, 'completed');
  assert.is(b.following, 0, 'an ended log is no longer read');
});

test('one reader on a node follows many sessions at once, each in its own order', async () => {
  const [a, b] = await twoNodes();
  const onA: Session[] = [];
  const onB: Session[] = [];
  for (let i = 0; i < 25; i++) {
    onA.push(await a.create(spec(), 'processing'));
    onB.push((await b.get(onA[i].id))!); // each one joins a read already blocked
  }
  assert.is(b.following, 25);
  const writes: Array<Promise<unknown>> = [];
  for (let k = 0; k < 8; k++) for (const s of onA) writes.push(s.append('segment', { index: k }));
  await Promise.all(writes);
  await Promise.all(onB.map((s) => reach(s, 9)));
  for (let i = 0; i < onA.length; i++) assert.equal(onB[i].history(), onA[i].history());
});

test('replay from any seq, on the node that wrote and on one that loads the session later', async () => {
  const [a, b] = await twoNodes();
  const s = await a.create(spec(), 'processing');
  for (let i = 0; i < 20; i++) await s.append('segment', { index: i });
  const onB = (await b.get(s.id))!;
  assert.equal(seqs(onB.history(10)), range(11, 21));
  const replayed: SessionEvent[] = [];
  const sub = onB.eventsSince(15).subscribe((e) => replayed.push(e));
  await s.append('segment', { index: 20 });
  await reach(onB, 22);
  sub.unsubscribe();
  assert.equal(seqs(replayed), range(16, 22));
  assert.equal(replayed, s.history(15));
});

test('terminal refusal and the from condition hold across nodes', async () => {
  const [a, b] = await twoNodes();
  const s = await a.create(spec({ uploadLength: 10 }), 'uploading');
  const onB = (await b.get(s.id))!;
  // both nodes finish the upload at once: one transition wins
  const moved = await Promise.all([s.transition('pending', {}, { from: 'uploading' }), onB.transition('pending', {}, { from: 'uploading' })]);
  assert.equal(moved.filter(Boolean).length, 1, `moved: ${moved}`);
  await reach(onB, 2);
  await reach(s, 2);
  assert.not.ok(await onB.transition('pending'), 'already in that status');
  assert.not.ok(await onB.transition('processing', {}, { from: 'uploading' }), 'not in `from`');
  assert.ok(await s.transition('cancelled'));
  await reach(onB, 4);
  assert.is(await onB.append('progress', { progress: 0.5 }), null);
  assert.not.ok(await onB.transition('failed', { error: { code: 'x', message: 'y' } }));
  const c = (await b.get(s.id))!;
  assert.equal(seqs(c.history()), [1, 2, 3, 4]);
  assert.equal(
    c.history().map((e) => e.type),
    ['status', 'status', 'status', 'cancelled'],
  );
});

test('a segment index is appended once, whichever node sends it (a take-over whose replica is behind)', async () => {
  const [a, b] = await twoNodes();
  const s = await a.create(spec(), 'processing');
  const onB = (await b.get(s.id))!;
  assert.ok(await s.append('segment', { index: 0, score: 1 }));
  // B sends index 0 before its replica got A's event, then both send index 1 at once
  const [again, x, y] = await Promise.all([onB.append('segment', { index: 0, score: 2 }), s.append('segment', { index: 1 }), onB.append('segment', { index: 1 })]);
  assert.is(again, null, 'index 0 is in the log already');
  assert.equal([x, y].filter(Boolean).length, 1, 'one of the two index-1 appends lands');
  assert.ok(await onB.append('progress', { progress: 0.5 }), 'other events are not affected');
  const c = (await b.get(s.id))!;
  await reach(c, 4);
  assert.equal(c.history().map((e) => [e.type, e.data.index]), [['status', undefined], ['segment', 0], ['segment', 1], ['progress', undefined]]);
  assert.is(c.history()[1].data.score, 1, 'the first one stays');
});

test('list is newest first with the cursor of SessionListQuery, by status too; count by status', async () => {
  const [a, b] = await twoNodes();
  const made: Session[] = [];
  for (let i = 0; i < 5; i++) made.push(await (i % 2 ? a : b).create(spec(), i < 3 ? 'pending' : 'uploading'));
  await made[0].transition('processing');
  const newestFirst = [...made].sort((x, y) => (y.meta.createdAt + y.id < x.meta.createdAt + x.id ? -1 : 1)).map((s) => s.id);
  const page1 = await a.list({ limit: 2 });
  assert.equal(page1.map((s) => s.id), newestFirst.slice(0, 2));
  const last = page1[1].meta;
  const page2 = await b.list({ limit: 10, after: { createdAt: last.createdAt, sessionId: last.sessionId } });
  assert.equal(page2.map((s) => s.id), newestFirst.slice(2));
  assert.equal((await b.list({ limit: 10, status: 'uploading' })).map((s) => s.id), newestFirst.filter((id) => made.findIndex((s) => s.id === id) >= 3));
  assert.equal((await a.list({ limit: 10, status: 'processing' })).map((s) => s.id), [made[0].id]);
  assert.equal(await b.count(), { uploading: 2, pending: 2, processing: 1, completed: 0, failed: 0, cancelled: 0 });
});

test('results, expiry by last activity, and remove on one node forgets the session on all', async () => {
  const [a, b] = await twoNodes();
  const old = await a.create(spec(), 'pending');
  const fresh = await a.create(spec(), 'pending');
  const onB = (await b.get(old.id))!;
  assert.ok(onB);
  await a.writeResult(old.id, { highlights_found: 1 });
  assert.equal(JSON.parse((await b.resultText(old.id))!), { highlights_found: 1 });
  assert.is(await b.resultText(fresh.id), null);
  await new Promise((r) => setTimeout(r, 30)); // ages of a few ms apart
  await fresh.append('progress', { progress: 0.1 });
  const cutoff = Date.parse(fresh.state.updatedAt);
  assert.equal(await b.expired(cutoff, 1), [old.id]);
  assert.equal((await b.expired(cutoff + 1000, 1)).sort(), [old.id, fresh.id].sort());

  fs.writeFileSync(path.join(dataDir, 'sessions', old.id, 'video'), 'x'.repeat(1000));
  assert.ok(b.diskBytes(old.id) >= 1000);
  assert.ok(await a.remove(old.id));
  assert.not.ok(fs.existsSync(path.join(dataDir, 'sessions', old.id)));
  assert.is(await a.get(old.id), undefined);
  const gone = async () => {
    for (let i = 0; i < 500 && (await b.get(old.id)) !== undefined; i++) await new Promise((r) => setTimeout(r, 10));
    return b.get(old.id);
  };
  assert.is(await gone(), undefined, 'node B forgot it');
  assert.is(await b.resultText(old.id), null);
  assert.is(await onB.append('progress', { progress: 0.2 }), null, 'a stale replica cannot write');
  assert.not.ok(await b.remove(old.id));
  assert.equal((await a.list({ limit: 10 })).map((s) => s.id), [fresh.id]);
});

test('Redis restarted under a writer and a follower: writes wait and land once, in order; the reader resumes with no gap', async () => {
  const [a, b] = await twoNodes();
  const s = await a.create(spec(), 'processing');
  const onB = (await b.get(s.id))!;
  const seen: SessionEvent[] = [];
  onB.eventsSince(0).subscribe((e) => seen.push(e));
  const writes: Array<Promise<SessionEvent | null>> = [];
  for (let i = 0; i < 20; i++) writes.push(s.append('segment', { index: i }));
  await Promise.all(writes);
  const restarting = redis.restart();
  // written while Redis stops, is down and starts again
  let i = 20;
  const writer = setInterval(() => writes.push(s.append('segment', { index: i++ })), 5);
  await restarting;
  await Promise.all([...writes]);
  clearInterval(writer);
  for (let k = 0; k < 10; k++) writes.push(s.append('segment', { index: i++ }));
  const written = await Promise.all(writes);
  assert.ok(written.every((e) => e !== null), 'every write landed');
  const last = 1 + i;
  await reach(onB, last);
  assert.equal(seqs(seen), range(1, last));
  assert.equal(
    seen.slice(1).map((e) => e.data.index),
    range(0, i - 1),
    'each event once, in call order',
  );
  assert.equal(onB.history(), s.history());
});

test('refresh brings a replica that lags its log (its reader not caught up yet) up to date, in order, each event once', async () => {
  const [a, b] = await twoNodes();
  const s = await a.create(spec(), 'pending');
  const onB = (await b.get(s.id))!;
  // stands for a reader that has not caught up yet (after an outage): B hears nothing of the session
  (b as unknown as { reader: { unfollow(id: string): void } }).reader.unfollow(s.id);
  await s.transition('processing');
  await s.append('segment', { index: 0 });
  await s.append('progress', { progress: 50, attempt: 2 });
  await new Promise((r) => setTimeout(r, 100));
  assert.is(onB.lastSeq, 1, 'the replica lags');
  await b.refresh(onB);
  assert.equal(onB.history(), s.history());
  assert.is(onB.state.status, 'processing');
  await b.refresh(onB);
  assert.equal(seqs(onB.history()), [1, 2, 3, 4], 'nothing twice');
});

test('a write whose reply was lost is sent again and lands once', async () => {
  const proxy = await cuttingProxy(redis.port);
  const prefix = `s${++prefixN}:`;
  const conn = new RedisConnection({ url: `redis://127.0.0.1:${proxy.port}/0`, prefix });
  const direct = new RedisConnection({ url: redis.url, prefix });
  open.push(proxy, direct, conn);
  await Promise.all([conn.ready(), direct.ready()]);
  const store = new RedisSessionStore(conn, { nodeId: 'a', dataDir, retryWindowMs: 20_000 });
  open.push(store);
  const s = await store.create(spec(), 'processing');
  await s.append('segment', { index: 0 });
  proxy.drop('replies');
  const lost = s.append('segment', { index: 1 });
  const logKey = `${prefix}s:${s.id}:log`;
  for (let i = 0; i < 1000 && (await direct.client.xlen(logKey)) < 3; i++) await new Promise((r) => setTimeout(r, 5));
  assert.is(await direct.client.xlen(logKey), 3, 'Redis ran the write');
  proxy.drop('nothing');
  proxy.cut();
  const ev = (await lost)!;
  assert.is(ev.seq, 3);
  assert.is(await direct.client.xlen(logKey), 3, 'sent again, not appended again');
  await s.append('segment', { index: 2 });
  assert.equal(seqs(s.history()), [1, 2, 3, 4]);
  assert.equal(
    s.history().slice(1).map((e) => e.data.index),
    [0, 1, 2],
  );
});

test.run();
