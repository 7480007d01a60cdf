// Cluster mode with real processes: two API nodes, two workers, one redis-server, one shared
// DATA_DIR. A session uploaded on one API node is followed on the other over SSE and on the first
// over WebSocket with identical logs; a tus upload continues on the other node; a cancel sent to
// the node that did not take the upload stops the job on the worker.
import fs from 'node:fs';
import path from 'node:path';
import * as tus from 'tus-js-client';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { busyWorker, waitFor, withLogs, type Cluster } from '../helpers/cluster.js';
import { followSse, followWs, gapsAndDuplicates } from '../helpers/followers.js';
import { clusterSuite } from '../helpers/cluster-suite.js';
import { getJson, isTerminalStatus, pollStatus, upload } from '../helpers/server.js';

// the shared hooks (helpers/cluster-suite.ts): the videos, the cluster, skipped without redis-server
const suite = clusterSuite(
  'test/cluster/sessions.test.ts',
  { short: { seconds: 12, width: 320, height: 240 }, long: { seconds: 90, width: 640, height: 360 } },
  { api: 2, workers: 2, env: { ENGINE_CONCURRENCY: '1', JOB_LEASE: '3s' } },
);
const { it, follow } = suite;
let cluster: Cluster;
let short: string;
let long: string;
test.before(() => void ({ cluster, videos: { short, long } } = suite));
const api = (i: number) => `${cluster.api[i].url}/api/v1/video`;

it('upload on node A, follow on node B over SSE and on A over WebSocket: identical gapless logs; replay on B', () =>
  withLogs(cluster, async () => {
    const up = await upload(`${api(0)}/upload`, short, { params: JSON.stringify({ segment_duration: 2 }) });
    assert.is(up.status, 202, JSON.stringify(up.body));
    const id = up.body.sessionId as string;
    const sse = follow(followSse(cluster.api[1].url, id));
    const ws = follow(followWs(cluster.api[0].url, id));
    const [bySse, byWs] = await Promise.all([sse.done, ws.done]);
    assert.is(gapsAndDuplicates(bySse), '', 'SSE on B');
    assert.is(bySse[0].seq, 1);
    assert.is(bySse.at(-1)!.type, 'completed');
    assert.equal(byWs, bySse, 'the same log on both nodes and both transports');

    // REST on B shows what the log produced; its results are the log's segments.
    const res = await getJson(`${api(1)}/results/${id}`);
    assert.is(res.status, 200);
    const segments = bySse.filter((e) => e.type === 'segment').map((e) => e.data);
    assert.equal(segments.map((s) => s.index).sort((a, b) => a - b), res.body.results.all_analyses.map((s: any) => s.index));
    assert.is(segments.length, 6, 'a 12 s video in 2 s segments');

    // Replay from the middle on B, as a reconnecting EventSource asks for it.
    const mid = Math.floor(bySse.length / 2);
    const replay = await (await fetch(`${api(1)}/events/${id}?lastEventId=${mid}`)).text();
    const seqs = [...replay.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    assert.equal(seqs, bySse.slice(mid).map((e) => e.seq), 'replay after Last-Event-ID on the other node');
  }));

it('tus: the first half is sent to node A, the second half to node B; the upload completes and is analysed', () =>
  withLogs(cluster, async () => {
    const bytes = fs.readFileSync(short);
    const half = Math.ceil(bytes.length / 2);
    const sent: string[] = [];
    const first = await new Promise<string>((resolve, reject) => {
      const u: tus.Upload = new tus.Upload(bytes, {
        endpoint: `${api(0)}/uploads`,
        chunkSize: half,
        retryDelays: null,
        storeFingerprintForResuming: false,
        metadata: { filename: 'split.mp4', analysis_type: 'highlights' },
        onBeforeRequest: (req) => void sent.push(`${req.getMethod()} ${new URL(req.getURL()).port}`),
        // after the first PATCH: this client stops; the rest goes to the other node
        onChunkComplete: () => void u.abort().then(() => resolve(u.url!), reject),
        onSuccess: () => reject(new Error('the first client was meant to stop at half')),
        onError: reject,
      });
      u.start();
    });
    const id = first.split('/').pop()!;
    const other = `${api(1)}/uploads/${id}`;
    const head = await fetch(other, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
    assert.is(head.status, 200);
    assert.is(Number(head.headers.get('upload-offset')), half, 'node B sees the offset node A stored');
    await new Promise<void>((resolve, reject) => {
      const u = new tus.Upload(bytes, {
        uploadUrl: other,
        chunkSize: half,
        retryDelays: null,
        storeFingerprintForResuming: false,
        onBeforeRequest: (req) => void sent.push(`${req.getMethod()} ${new URL(req.getURL()).port}`),
        onSuccess: () => resolve(),
        onError: reject,
      });
      u.start();
    });
    const [a, b] = cluster.api.map((n) => String(n.port));
    assert.equal(sent, [`POST ${a}`, `PATCH ${a}`, `HEAD ${b}`, `PATCH ${b}`], 'requests per node');
    assert.ok(fs.readFileSync(path.join(cluster.dataDir, 'sessions', id, 'video')).equals(bytes), 'the stored video is the file, byte for byte');
    const st = await pollStatus(cluster.api[0].url, id, isTerminalStatus);
    assert.is(st.status, 'completed', JSON.stringify(st));
  }));

it('cancel on the node that did not take the upload stops the job on its worker', () =>
  withLogs(cluster, async () => {
    const up = await upload(`${api(0)}/upload`, long, { params: JSON.stringify({ segment_duration: 2 }) });
    assert.is(up.status, 202);
    const id = up.body.sessionId as string;
    const worker = await busyWorker(cluster);
    await pollStatus(cluster.api[1].url, id, (s) => s.status === 'processing');
    const t0 = performance.now();
    const cancel = await getJson(`${api(1)}/cancel/${id}`, { method: 'POST' });
    assert.is(cancel.status, 200, JSON.stringify(cancel.body));
    assert.is(cancel.body.status, 'cancelled');
    // The worker lets go of the job (its slot is free) long before the 45-segment job could end.
    await waitFor(async () => (await worker.health()).body.queue.running === 0, 10_000, `${worker.name} to stop the job`);
    const stopMs = performance.now() - t0;
    console.log(`  cancel on ${cluster.api[1].name} → ${worker.name} idle: ${stopMs.toFixed(0)} ms (the issue's bound: 250 ms; timed in bench, not asserted here)`);
    const log = await follow(followSse(cluster.api[0].url, id)).done;
    assert.is(gapsAndDuplicates(log), '');
    assert.is(log.at(-1)!.type, 'cancelled');
    const segments = log.filter((e) => e.type === 'segment').length;
    assert.ok(segments < 45, `the job was stopped (${segments} of 45 segments)`);
    for (const i of [0, 1]) assert.is((await getJson(`${api(i)}/status/${id}`)).body.status, 'cancelled');
    assert.equal(await follow(followSse(cluster.api[1].url, id)).done, log, 'the same log on the other node');
  }));

test.run();
