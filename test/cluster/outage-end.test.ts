// A run that ends while Redis is away (real processes: one API node, one worker, one
// redis-server with AOF): the worker keeps its result and its last events and stores them when
// Redis is back within its retry window (JOB_LEASE), so the session completes with a whole log
// instead of failing.
import fs from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { busyWorker, clusterOutput, skipWithoutRedis, startCluster, waitFor, type Cluster } from '../helpers/cluster.js';
import { followSse, gapsAndDuplicates } from '../helpers/followers.js';
import { makeTestVideo } from '../helpers/media.js';
import { getJson, isTerminalStatus, pollStatus, tempDir, upload } from '../helpers/server.js';

// without redis-server (CI has it) every test is reported skipped, with the reason printed
const it = skipWithoutRedis('test/cluster/outage-end.test.ts') ? test.skip : test;
let cluster: Cluster;
let dir: string;
let video: string;

test.before(async () => {
  if (it === test.skip) return;
  try {
    dir = tempDir('vas-cluster-media-');
    video = await makeTestVideo(dir, { seconds: 60, width: 640, height: 360, name: 'v60.mp4' });
    // a lease (and so a retry window) far longer than the outage: the worker keeps the job
    cluster = await startCluster({ api: 1, workers: 1, appendonly: 'everysec', env: { ENGINE_CONCURRENCY: '1', JOB_LEASE: '20s' } });
  } catch (err) {
    console.error(err); // uvu does not print a failing hook's error
    throw err;
  }
});

test.after(async () => {
  await cluster?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

it('the engine finishes while Redis is away: once Redis is back the session completes, its log whole, its results stored', async () => {
  try {
    const [api] = cluster.api;
    const up = await upload(`${api.url}/api/v1/video/upload`, video, { params: JSON.stringify({ segment_duration: 2 }) });
    assert.is(up.status, 202, JSON.stringify(up.body));
    const id = up.body.sessionId as string;
    const live = followSse(api.url, id);
    const worker = await busyWorker(cluster);

    const redis = cluster.redis;
    redis.proc.kill('SIGTERM');
    await new Promise((r) => redis.proc.once('exit', r));
    assert.is((await worker.health()).body.queue.running, 1, 'the run was still going when Redis stopped');
    // the run ends (its slot is free) while Redis is still away
    await waitFor(async () => (await worker.health()).body.queue.running === 0, 60_000, `${worker.name} to finish the run`);
    await redis.restart();

    const st = await pollStatus(api.url, id, isTerminalStatus, 60_000);
    assert.is(st.status, 'completed', JSON.stringify(st));
    const log = await live.done;
    assert.is(gapsAndDuplicates(log), '', 'the follower across the outage');
    assert.is(log.filter((e) => e.type === 'progress' && typeof e.data.attempt === 'number').length, 0, 'no take-over: the worker kept its job');
    const indexes = log.filter((e) => e.type === 'segment').map((e) => e.data.index);
    const results = await getJson(`${api.url}/api/v1/video/results/${id}`);
    assert.is(results.status, 200, JSON.stringify(results.body));
    assert.equal([...indexes].sort((a, b) => a - b), results.body.results.all_analyses.map((s: any) => s.index), 'every segment of the results in the log, once');
    assert.is(indexes.length, 30);
  } catch (err) {
    (err as Error).message += `\n${clusterOutput(cluster)}`;
    throw err;
  }
});

test.run();
