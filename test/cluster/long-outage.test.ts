// Redis away for longer than JOB_LEASE while a worker's engine still runs (real processes: one API
// node, two workers, one redis-server with AOF). The worker's events of that time could not be
// stored (a write waits for Redis at most JOB_LEASE) and its lease ran out, so its run must not
// complete: the job is taken over once Redis is back, and the final log has every segment of the
// results, each once (it used to complete with a log that lacked the segments of the outage).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { busyWorker, waitFor, withLogs, type Cluster } from '../helpers/cluster.js';
import { followSse, gapsAndDuplicates } from '../helpers/followers.js';
import { clusterSuite } from '../helpers/cluster-suite.js';
import { getJson, isTerminalStatus, pollStatus, upload } from '../helpers/server.js';

// the shared hooks (helpers/cluster-suite.ts): the videos, the cluster, skipped without redis-server
const LEASE_MS = 3000;
const suite = clusterSuite('test/cluster/long-outage.test.ts', { video: { seconds: 240, width: 640, height: 360 } }, {
  api: 1,
  workers: 2,
  appendonly: 'everysec',
  env: { ENGINE_CONCURRENCY: '1', JOB_LEASE: `${LEASE_MS / 1000}s` },
});
const { it } = suite;
let cluster: Cluster;
let video: string;
test.before(() => void ({ cluster, videos: { video } } = suite));

it('Redis away longer than JOB_LEASE mid-job: after it is back the job completes with every segment of its results in the log, once', () =>
  withLogs(cluster, async () => {
    const [api] = cluster.api;
    const up = await upload(`${api.url}/api/v1/video/upload`, video, { params: JSON.stringify({ segment_duration: 2 }) });
    assert.is(up.status, 202, JSON.stringify(up.body));
    const id = up.body.sessionId as string;
    const live = followSse(api.url, id);
    const worker = await busyWorker(cluster);
    await pollStatus(api.url, id, (s) => s.status === 'processing' && s.segments.completed > 1);

    const redis = cluster.redis;
    redis.proc.kill('SIGTERM');
    await new Promise((r) => redis.proc.once('exit', r));
    const stopped = Date.now();
    // away past the lease, until the worker's run is over (its engine finished or it gave up)
    await waitFor(
      async () => Date.now() - stopped > LEASE_MS + 1000 && (await worker.health()).body.queue.running === 0,
      60_000,
      `${worker.name}'s run to end while Redis is away`,
    );
    await redis.restart();

    const st = await pollStatus(api.url, id, isTerminalStatus, 120_000);
    assert.is(st.status, 'completed', JSON.stringify(st));
    const log = await live.done;
    assert.is(gapsAndDuplicates(log), '', 'the follower across the outage');
    const indexes = log.filter((e) => e.type === 'segment').map((e) => e.data.index);
    assert.equal(indexes, [...new Set(indexes)], 'no segment index twice');
    const results = await getJson(`${api.url}/api/v1/video/results/${id}`);
    assert.is(results.status, 200, JSON.stringify(results.body));
    assert.equal([...indexes].sort((a, b) => a - b), results.body.results.all_analyses.map((s: any) => s.index), 'every segment of the results is in the log');
    assert.is(indexes.length, 120);
    assert.equal(await followSse(api.url, id).done, log, 'a new follower reads the same log');
  }));

test.run();
