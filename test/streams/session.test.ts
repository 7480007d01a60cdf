// The session event log, its fold, the replay/live seam, and the journal's crash recovery.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { SessionEvent } from '../../src/streams/events.js';
import { DataLayout } from '../../src/streams/layout.js';
import { Session } from '../../src/streams/session.js';
import { JournalSessionStore } from '../../src/streams/store.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'vas-store-'));
const storeAt = (dir: string) => new JournalSessionStore(new DataLayout(dir));
const spec = { analysisType: 'highlights' as const, params: { min_significance: 6 }, filename: 'a.mp4' };

test('seq numbers start at 1 and have no gaps; state is the fold of the log', async () => {
  const store = storeAt(tmp());
  const s = await store.create(spec, 'pending');
  s.transition('processing');
  s.append('progress', { progress: 0.5, currentStep: 'Analyzing segments', segments: { completed: 1, total: 2 } });
  s.append('progress', { progress: 0.2, currentStep: 'Analyzing segments', segments: { completed: 1, total: 2 } });
  assert.equal(s.history().map((e) => e.seq), [1, 2, 3, 4]);
  assert.is(s.state.progress, 0.5, 'progress never decreases');
  s.transition('completed', { highlights_found: 1 });
  assert.is(s.state.status, 'completed');
  assert.is(s.state.progress, 1);
  assert.is(s.history().at(-1)!.type, 'completed');
  assert.is(await s.append('progress', { progress: 0.9 }), null, 'a terminal log is closed');
  assert.is(await s.transition('failed', { error: { code: 'x', message: 'y' } }), false, 'terminal states never change');
  assert.is(s.state.status, 'completed');
});

test('replay then live: nothing lost or doubled at the seam, even when events arrive during replay', async () => {
  const store = storeAt(tmp());
  const s = await store.create(spec, 'pending');
  s.transition('processing');
  for (let i = 0; i < 5; i++) s.append('segment', { index: i });
  const got: number[] = [];
  let appendedDuringReplay = false;
  s.eventsSince(2).subscribe((ev) => {
    got.push(ev.seq);
    if (!appendedDuringReplay) {
      appendedDuringReplay = true;
      s.append('segment', { index: 99 }); // arrives while the replay is running
    }
  });
  s.append('segment', { index: 100 });
  s.transition('completed');
  const all = s.history().map((e) => e.seq);
  assert.equal(got, all.filter((x) => x > 2));
});

test('eventsSince completes after the terminal event and clamps a future since', async () => {
  const store = storeAt(tmp());
  const s = await store.create(spec, 'pending');
  s.transition('cancelled');
  let completed = false;
  const got: string[] = [];
  s.eventsSince(0).subscribe({ next: (e) => got.push(e.type), complete: () => (completed = true) });
  assert.ok(completed);
  assert.equal(got, ['status', 'status', 'cancelled']);
  const live = await store.create(spec, 'pending');
  const seen: number[] = [];
  live.eventsSince(1000).subscribe((e) => seen.push(e.seq));
  live.transition('processing');
  assert.equal(seen, [2]);
});

test('recovery: same events and state; processing re-queued first, then pending; torn tail dropped', async () => {
  const dir = tmp();
  const a = storeAt(dir);
  const done = await a.create(spec, 'pending');
  done.transition('processing');
  done.append('segment', { index: 0, significance_score: 7 });
  await a.writeResult(done.id, { ok: true });
  done.transition('completed', { highlights_found: 1 });
  const running = await a.create(spec, 'pending');
  running.transition('processing');
  running.append('progress', { progress: 0.4, currentStep: 'x', segments: { completed: 2, total: 5 } });
  const queued = await a.create(spec, 'pending');
  await a.close();
  // A crash in the middle of a write leaves half a line.
  fs.appendFileSync(path.join(dir, 'sessions', running.id, 'events.jsonl'), '{"seq":5,"type":"prog');

  const b = storeAt(dir);
  const report = await b.recover();
  assert.is(report.restored, 3);
  assert.is(report.resumed, 1);
  assert.equal(report.requeue.map((s) => s.id), [running.id, queued.id]);
  const done2 = (await b.get(done.id))!;
  assert.equal(done2.history(), done.history());
  assert.equal(done2.state, done.state);
  assert.equal(JSON.parse((await b.resultText(done.id))!), { ok: true });
  const r2 = (await b.get(running.id))!;
  assert.is(r2.state.status, 'processing', 'left for the scheduler to run again');
  assert.is(r2.state.progress, 0.4);
  const seqs = r2.history().map((e: SessionEvent) => e.seq);
  assert.equal(seqs, seqs.map((_, i) => i + 1), 'gapless after the torn line');
  await b.close();
  // And the repaired journal reads back the same again.
  const c = storeAt(dir);
  await c.recover();
  assert.equal((await c.get(running.id))!.history(), r2.history());
});

test('transition: the `from` condition, and a local session applies before its promise is returned', async () => {
  const store = storeAt(tmp());
  const s = await store.create(spec, 'pending');
  assert.is(await s.transition('cancelled', {}, { from: 'processing' }), false, 'not in `from`: nothing happens');
  assert.is(s.lastSeq, 1);
  const moved = s.transition('processing', {}, { from: 'pending' });
  assert.is(s.state.status, 'processing', 'applied synchronously');
  assert.is(await moved, true);
  assert.is(await s.transition('processing'), false, 'already in that status');
  const failed = s.transition('failed', { error: { code: 'x', message: 'y' } });
  assert.equal(s.history().slice(-2).map((e) => e.type), ['status', 'failed'], 'status and terminal event at once');
  assert.is(await failed, true);
  assert.equal(s.state.error, { code: 'x', message: 'y' });
});

/** A session fed from outside, as a shared store's replica is: events arrive by seq, maybe out of order. */
class Replica extends Session {
  feed(ev: SessionEvent): boolean {
    return this.apply(ev);
  }
  append(): Promise<SessionEvent | null> {
    throw new Error('read-only');
  }
  transition(): Promise<boolean> {
    throw new Error('read-only');
  }
}

test('apply: in seq order whatever the arrival order; duplicates ignored; nothing after the terminal event', async () => {
  const meta = { sessionId: 'x'.repeat(21), analysisType: 'highlights' as const, params: {}, createdAt: new Date(0).toISOString(), filename: null };
  const r = new Replica(meta, 'pending');
  const ev = (seq: number, type: SessionEvent['type'], data: Record<string, unknown> = {}): SessionEvent => ({ seq, type, data, at: new Date(seq).toISOString() });
  const seen: number[] = [];
  let completed = false;
  r.eventsSince(0).subscribe({ next: (e) => seen.push(e.seq), complete: () => (completed = true) });
  assert.is(r.feed(ev(1, 'status', { status: 'pending' })), true);
  assert.is(r.feed(ev(3, 'segment', { index: 0 })), false, 'waits for seq 2');
  assert.is(r.feed(ev(4, 'segment', { index: 1 })), false);
  assert.equal(seen, [1]);
  assert.is(r.feed(ev(2, 'status', { status: 'processing' })), true, 'fills the gap');
  assert.equal(seen, [1, 2, 3, 4]);
  assert.is(r.feed(ev(3, 'segment', { index: 0 })), false, 'a duplicate is ignored');
  assert.is(r.feed(ev(6, 'completed')), false);
  assert.is(r.feed(ev(5, 'status', { status: 'completed' })), true);
  assert.equal(seen, [1, 2, 3, 4, 5, 6]);
  assert.ok(completed, 'followers complete after the terminal event');
  assert.is(r.feed(ev(7, 'progress', { progress: 0.5 })), false, 'the log is closed');
  assert.is(r.state.status, 'completed');
  assert.is(r.lastSeq, 6);
});

test('ids: only nanoid-shaped ids are looked up', async () => {
  const store = storeAt(tmp());
  const s = await store.create(spec, 'pending');
  assert.match(s.id, /^[A-Za-z0-9_-]{21}$/);
  assert.ok(await store.get(s.id));
  assert.is(await store.get('../' + s.id.slice(3)), undefined);
});

test.run();
