// Redis stopped and started again mid-job (AOF everysec, so what it had survives a clean stop),
// with real processes: while it is away the API nodes answer 503 unavailable with Retry-After on
// routes that need it and /health says degraded, no node exits; once it is back the service
// resumes by itself and the job completes with a gapless log, each segment once. A worker whose
// engine finishes while Redis is away reports the job's events and results when it is back
// (within JOB_LEASE, the time a write waits for Redis).
import fs from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { busyWorker, waitFor, withLogs, type Cluster } from '../helpers/cluster.js';
import { followSse, followWs, gapsAndDuplicates, type Follower } from '../helpers/followers.js';
import { clusterSuite } from '../helpers/cluster-suite.js';
import { getJson, isTerminalStatus, pollStatus, upload } from '../helpers/server.js';

// the shared hooks (helpers/cluster-suite.ts): the videos, the cluster, skipped without redis-server
const suite = clusterSuite(
  'test/cluster/redis-outage.test.ts',
  { long: { seconds: 90, width: 640, height: 360 }, short: { seconds: 4, width: 320, height: 240 } },
  { api: 2, workers: 2, appendonly: 'everysec', env: { ENGINE_CONCURRENCY: '1', JOB_LEASE: '10s' } },
);
const { it, follow } = suite;
let cluster: Cluster;
let long: string;
let short: string;
test.before(() => void ({ cluster, videos: { long, short } } = suite));

it('Redis stopped mid-job: 503 unavailable + Retry-After and /health degraded meanwhile; after its restart the job completes, log gapless', () =>
  withLogs(cluster, async () => {
    const [a, b] = cluster.api;
    let sse!: Follower;
    let ws!: Follower;
    const { id } = await stopRedisMidJob((id) => {
      // one follower on each node across the outage
      sse = follow(followSse(b.url, id));
      ws = follow(followWs(a.url, id));
    });
    const redis = cluster.redis;
    for (const node of cluster.api) {
      await waitFor(async () => (await node.health()).body.redis?.connected === false, 10_000, `${node.name} to notice Redis is gone`);
      const h = await node.health();
      assert.is(h.body.status, 'degraded', JSON.stringify(h.body));
      assert.ok(h.body.problems.some((p: string) => /redis/i.test(p)), JSON.stringify(h.body.problems));
      const refused = await upload(`${node.url}/api/v1/video/upload`, short);
      assert.is(refused.status, 503, JSON.stringify(refused.body));
      assert.is(refused.body.error.code, 'unavailable');
      assert.ok(Number(refused.headers.get('retry-after')) >= 1, 'Retry-After');
      const list = await getJson(`${node.url}/api/v1/video/sessions`);
      assert.is(list.status, 503, 'the sessions list needs Redis');
      assert.ok(Number(list.headers.get('retry-after')) >= 1);
    }
    for (const w of cluster.workers) assert.is((await w.health()).body.redis?.connected, false, `${w.name} /health`);

    await redis.restart();
    for (const node of cluster.nodes) {
      await waitFor(async () => (await node.health()).body.redis?.connected === true, 20_000, `${node.name} to reconnect`);
    }
    const st = await pollStatus(a.url, id, isTerminalStatus, 90_000);
    assert.is(st.status, 'completed', JSON.stringify(st));
    const [bySse, byWs] = await Promise.all([sse.done, ws.done]);
    assert.is(gapsAndDuplicates(bySse), '', 'SSE follower across the outage');
    assert.equal(byWs, bySse, 'the WebSocket follower on the other node has the same log');
    const indexes = bySse.filter((e) => e.type === 'segment').map((e) => e.data.index);
    assert.equal(indexes, [...new Set(indexes)], 'no segment index twice');
    const results = (await getJson(`${b.url}/api/v1/video/results/${id}`)).body.results;
    assert.equal([...indexes].sort((x, y) => x - y), results.all_analyses.map((s: any) => s.index));
    assert.is(results.total_segments_analyzed, 45);

    // service is back: a new upload is accepted and analysed
    const after = await upload(`${b.url}/api/v1/video/upload`, short);
    assert.is(after.status, 202, JSON.stringify(after.body));
    assert.is((await pollStatus(a.url, after.body.sessionId, isTerminalStatus)).status, 'completed');
    for (const n of cluster.nodes) assert.ok(n.alive(), `${n.name} is still running`);
  }));

/**
 * Uploads the long video on the first API node, lets `watch` follow its session, and stops Redis
 * (SIGTERM: AOF keeps what it had) once a worker has logged a segment of it.
 */
async function stopRedisMidJob(watch: (id: string) => void) {
  const a = cluster.api[0];
  const up = await upload(`${a.url}/api/v1/video/upload`, long, { params: JSON.stringify({ segment_duration: 2 }) });
  assert.is(up.status, 202);
  const id = up.body.sessionId as string;
  watch(id);
  const worker = await busyWorker(cluster);
  await pollStatus(a.url, id, (s) => s.status === 'processing' && s.segments.completed > 0);
  const redis = cluster.redis;
  redis.proc.kill('SIGTERM');
  await new Promise((r) => redis.proc.once('exit', r));
  return { id, worker };
}

/** CPU seconds a process used so far (utime + stime). */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

it('the engine finishes while Redis is away: the events and results land when it is back, the session completes', () =>
  withLogs(cluster, async () => {
    const [a, b] = cluster.api;
    let sse!: Follower;
    const { id, worker } = await stopRedisMidJob((id) => (sse = follow(followSse(b.url, id))));
    const redis = cluster.redis;
    // the engine is done when the worker's process stops using CPU (its decoding threads count)
    const pid = worker.proc!.pid!;
    let last = cpuSeconds(pid);
    let quiet = 0;
    await waitFor(
      async () => {
        await new Promise((r) => setTimeout(r, 200));
        const now = cpuSeconds(pid);
        quiet = now - last < 0.02 ? quiet + 1 : 0;
        last = now;
        return quiet >= 3;
      },
      8000,
      `${worker.name} to finish the analysis`,
    );
    assert.is((await worker.health()).body.redis?.connected, false, 'Redis is still away when the engine is done');
    await redis.restart();
    const st = await pollStatus(a.url, id, isTerminalStatus, 60_000);
    assert.is(st.status, 'completed', JSON.stringify(st));
    const log = await sse.done;
    assert.is(gapsAndDuplicates(log), '');
    assert.is(log.filter((e) => e.type === 'segment').length, 45, 'every segment once');
    const results = await getJson(`${b.url}/api/v1/video/results/${id}`);
    assert.is(results.status, 200);
    assert.is(results.body.results.total_segments_analyzed, 45);
  }));

test.run();
