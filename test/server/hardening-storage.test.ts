// Disk errors against the real server in a child process: a full disk (a small tmpfs as
// DATA_DIR), a read-only one (the tmpfs remounted read-only), DATA_DIR deleted under a running
// job, and a process out of file handles (RLIMIT_NOFILE lowered). Each must get a clear error
// without a server path in it, lose nothing that was stored, and leave the server working.
// Mounting needs root: without it those cases are skipped with a message.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeTestVideo } from '../helpers/media.js';
import { TEST_STORE, getJson, incomingFiles, isTerminalStatus, pollStatus, spawnServer, tempDir, upload, type ChildServer } from '../helpers/server.js';

let dir: string;
let video: string;
const TUS = { 'Tus-Resumable': '1.0.0' };
const mounts: string[] = [];

function tryMount(sizeMb: number): string | null {
  const at = tempDir('vas-tmpfs-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', at], { stdio: 'pipe' });
  } catch (err) {
    console.log(`  (skipped: cannot mount a tmpfs here: ${(err as Error).message.split('\n')[0]})`);
    fs.rmSync(at, { recursive: true, force: true });
    return null;
  }
  mounts.push(at);
  return at;
}

test.before(async () => {
  dir = tempDir();
  video = await makeTestVideo(dir, { seconds: 4, width: 320, height: 240, audio: true });
});
test.after(() => {
  for (const m of mounts) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'pipe' });
      fs.rmSync(m, { recursive: true, force: true });
    } catch {}
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

/** No answer of the server may show where its files are. */
function assertNoPath(body: unknown, root: string) {
  const text = JSON.stringify(body);
  assert.not.ok(text.includes(root) || /\/(tmp|work|root|data|home)\//.test(text), `a path in ${text}`);
}

async function assertWorks(srv: ChildServer) {
  assert.is(srv.proc.exitCode, null, `server exited:\n${srv.output()}`);
  assert.not.match(srv.output(), /Unhandled|uncaught|ERR_STREAM_DESTROYED/i);
  const up = await upload(`${srv.url}/api/v1/video/upload`, video);
  assert.is(up.status, 202, JSON.stringify(up.body));
  assert.is((await pollStatus(srv.url, up.body.sessionId, isTerminalStatus)).status, 'completed');
}

/** A body that starts as a real video (so it passes the first-bytes check) and goes on as noise. */
function bigBody(bytes: number): Buffer {
  return Buffer.concat([fs.readFileSync(video), randomBytes(bytes)]).subarray(0, bytes);
}

/** POSTs a multipart upload with node:http, reading the answer even when it comes mid-body. */
function postMultipart(port: number, file: Buffer): Promise<{ status: number; body: any }> {
  const head = Buffer.from('--XB\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\nContent-Type: video/mp4\r\n\r\n');
  const tail = Buffer.from('\r\n--XB--\r\n');
  return new Promise((resolve, reject) => {
    const req = http.request(
      { port, host: '127.0.0.1', method: 'POST', path: '/api/v1/video/upload', headers: { 'Content-Type': 'multipart/form-data; boundary=XB', 'Content-Length': head.length + file.length + tail.length } },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      },
    );
    // An answer that arrives while we are still sending is read even if the write then fails.
    req.on('error', (err) => setTimeout(() => reject(err), 500));
    req.write(head);
    for (let off = 0; off < file.length; off += 1 << 20) req.write(file.subarray(off, off + (1 << 20)));
    req.end(tail);
  });
}

const partFiles = (root: string) => incomingFiles(root);

test('disk full: multipart and tus uploads get 507 with their partial files removed, stored data stays', async () => {
  const root = tryMount(40);
  if (!root) return;
  const srv = await spawnServer({ DATA_DIR: root, MAX_UPLOAD_BYTES: '100MiB', ENGINE_CONCURRENCY: '1' });
  try {
    const kept = await upload(`${srv.url}/api/v1/video/upload`, video);
    await pollStatus(srv.url, kept.body.sessionId, isTerminalStatus);

    // More than the disk holds, declared up front: refused before a byte is stored.
    const tooBig = await postMultipart(srv.port, bigBody(60 << 20));
    assert.is(tooBig.status, 507);
    assert.is(tooBig.body.error.code, 'insufficient_storage');
    assertNoPath(tooBig.body, root);

    // Each fits on its own, together they do not: the disk fills while they stream.
    const both = await Promise.all([postMultipart(srv.port, bigBody(24 << 20)), postMultipart(srv.port, bigBody(24 << 20))]);
    const full = both.filter((r) => r.status === 507);
    assert.ok(full.length >= 1, JSON.stringify(both.map((r) => r.status)));
    for (const r of full) {
      assert.is(r.body.error.code, 'insufficient_storage');
      assert.match(r.body.error.message, /disk is full/);
      assertNoPath(r.body, root);
    }
    for (let i = 0; i < 50 && partFiles(root).length; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(partFiles(root), [], 'partial files removed');
    for (const r of both) if (r.status === 202) await getJson(`${srv.url}/api/v1/video/cleanup/${r.body.sessionId}`, { method: 'DELETE' });

    // tus: two uploads that cannot both fit; the one that hits the full disk keeps what it stored.
    const endpoint = `${srv.url}/api/v1/video/uploads`;
    const mk = async () => new URL((await fetch(endpoint, { method: 'POST', headers: { ...TUS, 'Upload-Length': String(24 << 20) } })).headers.get('location')!, srv.url).href;
    const urls = [await mk(), await mk()];
    const patches = await Promise.all(
      urls.map((u) =>
        fetch(u, { method: 'PATCH', headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0' }, body: new Uint8Array(bigBody(24 << 20)) }).then(async (r) => ({ status: r.status, body: r.status === 204 ? null : await r.json() })),
      ),
    );
    const tusFull = patches.filter((p) => p.status === 507);
    assert.ok(tusFull.length >= 1, JSON.stringify(patches.map((p) => p.status)));
    assertNoPath(tusFull[0].body, root);
    for (const u of urls) {
      const h = await fetch(u, { method: 'HEAD', headers: TUS });
      const offset = Number(h.headers.get('upload-offset'));
      assert.ok(offset <= 24 << 20 && offset === fs.statSync(path.join(root, 'sessions', u.split('/').pop()!, 'video')).size, 'HEAD reports what is on disk');
      await fetch(u, { method: 'DELETE', headers: TUS });
    }

    const stillThere = await getJson(`${srv.url}/api/v1/video/results/${kept.body.sessionId}`);
    assert.is(stillThere.status, 200, 'stored results survive');
    await assertWorks(srv);
  } finally {
    srv.proc.kill('SIGKILL');
  }
});

test('disk full under a tus upload: every retry gets 507, the upload survives, and resumes once there is room', async () => {
  const root = tryMount(40);
  if (!root) return;
  let srv = await spawnServer({ DATA_DIR: root, MAX_UPLOAD_BYTES: '100MiB' });
  try {
    const bytes = fs.readFileSync(await makeTestVideo(dir, { seconds: 30, width: 640, height: 360, audio: false, name: 'tus30.mp4' }));
    const endpoint = `${srv.url}/api/v1/video/uploads`;
    const url = new URL((await fetch(endpoint, { method: 'POST', headers: { ...TUS, 'Upload-Length': String(bytes.length) } })).headers.get('location')!, srv.url).href;
    const id = url.split('/').pop()!;
    const patch = (offset: number, body: Buffer) =>
      fetch(url, { method: 'PATCH', headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(offset) }, body: new Uint8Array(body) });
    const half = Math.floor(bytes.length / 2);
    assert.is((await patch(0, bytes.subarray(0, half))).status, 204);

    // Fill the disk, then retry as a tus client does: HEAD, PATCH at the offset it says.
    const filler = path.join(root, 'filler');
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M', 'count=100'], { stdio: 'pipe' });
    } catch {
      // dd stops at the full disk
    }
    // Enough retries that their `upload` events need a new page of the journal on the full disk.
    let refused = 0;
    for (let i = 0; i < 100; i++) {
      const offset = Number((await fetch(url, { method: 'HEAD', headers: TUS })).headers.get('upload-offset'));
      const r = await patch(offset, bytes.subarray(offset, offset + 65536));
      if (r.status === 507) refused++;
      else assert.is(r.status, 204, await r.text());
    }
    assert.ok(refused > 0, 'the full disk was noticed');
    // (with Redis the events are not written to DATA_DIR)
    if (TEST_STORE === 'journal') assert.match(srv.output(), /Could not record the session event: the disk is full/, 'the journal itself hit the full disk');
    assert.is((await getJson(`${srv.url}/api/v1/video/status/${id}`)).body.status, 'uploading', 'the upload is not given up');

    fs.rmSync(filler);
    let offset = Number((await fetch(url, { method: 'HEAD', headers: TUS })).headers.get('upload-offset'));
    assert.is((await patch(offset, bytes.subarray(offset))).status, 204);
    const done = await pollStatus(srv.url, id, isTerminalStatus);
    assert.is(done.status, 'completed', JSON.stringify(done.error));
    assert.ok(fs.readFileSync(path.join(root, 'sessions', id, 'video')).equals(bytes), 'the stored file is the one sent');

    // The events missed while the disk was full reached the journal: a restart reads the same log.
    const before = await eventSeqs(srv.url, id);
    srv.proc.kill('SIGKILL');
    await srv.exited;
    srv = await spawnServer({ DATA_DIR: root });
    const after = await eventSeqs(srv.url, id);
    assert.equal(after, before);
    assert.equal(after.map((e) => e.seq), after.map((_, i) => i + 1), 'gapless');
  } finally {
    srv.proc.kill('SIGKILL');
  }
});

/** A session's whole log over SSE: seq and type of each event. */
async function eventSeqs(base: string, id: string): Promise<Array<{ seq: number; type: string }>> {
  const text = await (await fetch(`${base}/api/v1/video/events/${id}`)).text();
  const out: Array<{ seq: number; type: string }> = [];
  for (const block of text.split('\n\n')) {
    const seq = /^id: (\d+)$/m.exec(block)?.[1];
    const type = /^event: (\w+)$/m.exec(block)?.[1];
    if (seq && type) out.push({ seq: Number(seq), type });
  }
  return out;
}

test('read-only DATA_DIR: /health says degraded with the reason, writes get storage_error, reads go on', async () => {
  const root = tryMount(256);
  if (!root) return;
  const srv = await spawnServer({ DATA_DIR: root });
  const remount = (mode: 'ro' | 'rw') => execFileSync('mount', ['-o', `remount,${mode}`, root], { stdio: 'pipe' });
  try {
    const kept = await upload(`${srv.url}/api/v1/video/upload`, video);
    await pollStatus(srv.url, kept.body.sessionId, isTerminalStatus);
    assert.is((await getJson(`${srv.url}/health`)).body.status, 'healthy');

    remount('ro'); // the server holds no file open for writing between requests, or this would be refused
    await new Promise((r) => setTimeout(r, 1100)); // a writable answer is cached for a second
    const health = await getJson(`${srv.url}/health`);
    assert.is(health.body.status, 'degraded');
    assert.match(health.body.problems.join(' '), /read-only/);
    assert.is(health.body.storage.writable, false);
    assertNoPath(health.body, root);
    assert.match((await getJson(`${srv.url}/metrics`)).body, /^video_storage_writable 0$/m);

    const up = await upload(`${srv.url}/api/v1/video/upload`, video);
    assert.is(up.status, 500);
    assert.is(up.body.error.code, 'storage_error');
    assertNoPath(up.body, root);
    const tus = await fetch(`${srv.url}/api/v1/video/uploads`, { method: 'POST', headers: { ...TUS, 'Upload-Length': '1000' } });
    assert.is(tus.status, 500);
    assertNoPath(await tus.json(), root);
    const cleanup = await getJson(`${srv.url}/api/v1/video/cleanup/${kept.body.sessionId}`, { method: 'DELETE' });
    assert.is(cleanup.status, 500, 'files that cannot be deleted are not reported deleted');
    assert.is(cleanup.body.error.code, 'storage_error');
    assertNoPath(cleanup.body, root);
    assert.is((await getJson(`${srv.url}/api/v1/video/results/${kept.body.sessionId}`)).status, 200, 'reads still work');

    remount('rw');
    assert.is((await getJson(`${srv.url}/health`)).body.status, 'healthy');
    assert.match((await getJson(`${srv.url}/metrics`)).body, /^video_storage_writable 1$/m);
    await assertWorks(srv);
  } finally {
    try {
      remount('rw');
    } catch {}
    srv.proc.kill('SIGKILL');
  }
});

test('DATA_DIR deleted while a job runs: the job fails with storage_error, the server recovers once it is back', async () => {
  const root = tempDir('vas-data-');
  const srv = await spawnServer({ DATA_DIR: root });
  try {
    const long = await makeTestVideo(dir, { seconds: 60, width: 640, height: 360, audio: false, name: 'long.mp4' });
    const up = await upload(`${srv.url}/api/v1/video/upload`, long);
    await pollStatus(srv.url, up.body.sessionId, (s) => s.status === 'processing');
    fs.rmSync(root, { recursive: true, force: true });
    const final = await pollStatus(srv.url, up.body.sessionId, isTerminalStatus);
    if (TEST_STORE === 'journal' || final.status === 'failed') {
      assert.is(final.status, 'failed');
      assert.is(final.error.code, 'storage_error');
    } else {
      // With Redis the log is not on the disk: a run whose engine had the video open may finish.
      assert.is(final.status, 'completed');
    }
    assertNoPath(final, root);
    await new Promise((r) => setTimeout(r, 1100)); // a writable answer is cached for a second
    const health = await getJson(`${srv.url}/health`);
    assert.is(health.body.status, 'degraded');
    assert.match(health.body.problems.join(' '), /data directory is missing/);

    // An operator puts the directory back: the service carries on by itself.
    fs.mkdirSync(root);
    assert.is((await getJson(`${srv.url}/health`)).body.status, 'healthy');
    await assertWorks(srv);
  } finally {
    srv.proc.kill('SIGKILL');
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('out of file handles: open uploads do not use them up, and running out is a 503, not a crash', async () => {
  const root = tempDir('vas-data-');
  const srv = await spawnServer({ DATA_DIR: root, MAX_OPEN_UPLOADS: '1000' }, { wrap: ['prlimit', '--nofile=96:96', '--'] });
  const held: net.Socket[] = [];
  try {
    // Many more unfinished uploads than the process has handles.
    const endpoint = `${srv.url}/api/v1/video/uploads`;
    for (let i = 0; i < 150; i++) {
      const res = await fetch(endpoint, { method: 'POST', headers: { ...TUS, 'Upload-Length': '5000', 'Content-Type': 'application/offset+octet-stream' }, body: 'x'.repeat(100) });
      assert.is(res.status, 201, `upload ${i}: ${await res.text()}`);
    }

    // Now take every handle with idle connections, and upload over a connection opened before.
    const sock = net.connect(srv.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    for (let i = 0; i < 120; i++) {
      const s = net.connect(srv.port, '127.0.0.1');
      s.on('error', () => {});
      held.push(s);
    }
    await new Promise((r) => setTimeout(r, 500));
    const body = `--XB\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n${fs.readFileSync(video).toString('latin1')}\r\n--XB--\r\n`;
    const answer = new Promise<string>((resolve) => {
      let raw = '';
      sock.on('data', (d) => {
        raw += d;
        if (/\r\n\r\n[\s\S]*\}/.test(raw)) resolve(raw);
      });
      sock.on('close', () => resolve(raw));
    });
    sock.write(`POST /api/v1/video/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=XB\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}\r\n\r\n`);
    sock.write(Buffer.from(body, 'latin1'));
    const raw = await answer;
    sock.destroy();
    assert.match(raw, /^HTTP\/1\.1 (503|202)/, raw.slice(0, 200));
    if (raw.startsWith('HTTP/1.1 503')) {
      assert.match(raw, /"unavailable"/);
      assert.match(raw, /Retry-After: \d+/i);
      assertNoPath(raw.slice(raw.indexOf('{')), root);
    }
    for (const s of held) s.destroy();
    held.length = 0;
    await new Promise((r) => setTimeout(r, 500));
    await assertWorks(srv);
  } finally {
    for (const s of held) s.destroy();
    srv.proc.kill('SIGKILL');
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test.run();
