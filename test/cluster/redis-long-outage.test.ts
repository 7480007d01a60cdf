// Redis away for longer than JOB_LEASE while a worker's engine still runs, and still running
// when Redis is back (real processes, two workers): the writes the worker held for Redis gave up
// after the lease, so events of segments are missing unless the job is run again (by whichever
// worker takes it) for the segments the log lacks. The session must complete with every segment
// of its results exactly once in its log, without a gap.
import fs from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { busyWorker, clusterOutput, skipWithoutRedis, startCluster, waitFor, type Cluster } from '../helpers/cluster.js';
import { followSse, gapsAndDuplicates, type Follower } from '../helpers/followers.js';
import { makeTestVideo } from '../helpers/media.js';
import { getJson, isTerminalStatus, pollStatus, tempDir, upload } from '../helpers/server.js';

// without redis-server (CI has it) every test is reported skipped, with the reason printed
const it = skipWithoutRedis('test/cluster/redis-long-outage.test.ts') ? test.skip : test;
const LEASE_MS = 1000;
/** How long Redis stays away: past the lease, so the worker's held writes give up. */
const OUTAGE_MS = LEASE_MS + 1000;
let cluster: Cluster;
/** Followers a failing test left open (they would reconnect for ever and keep the process alive). */
const followers: Follower[] = [];
const follow = <F extends Follower>(f: F): F => (followers.push(f), f);
let dir: string;
let long: string;

test.before(async () => {
  if (it === test.skip) return;
  try {
    dir = tempDir('vas-cluster-media-');
    long = await makeTestVideo(dir, { seconds: 180, width: 640, height: 360, name: 'longer.mp4' });
    cluster = await startCluster({ api: 1, workers: 2, appendonly: 'everysec', env: { ENGINE_CONCURRENCY: '1', JOB_LEASE: `${LEASE_MS}ms` } });
  } catch (err) {
    console.error(err); // uvu does not print a failing hook's error
    throw err;
  }
});

test.after(async () => {
  for (const f of followers) f.close();
  await cluster?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

it('Redis away for longer than JOB_LEASE while the engine runs on: completed, every segment of the results once in the log, no gap', async () => {
  try {
    const [a] = cluster.api;
    const up = await upload(`${a.url}/api/v1/video/upload`, long, { params: JSON.stringify({ segment_duration: 4 }) });
    assert.is(up.status, 202);
    const id = up.body.sessionId as string;
    const sse = follow(followSse(a.url, id));
    const worker = await busyWorker(cluster);
    await pollStatus(a.url, id, (s) => s.status === 'processing' && s.segments.completed > 0);
    const redis = cluster.redis;
    redis.proc.kill('SIGTERM');
    await new Promise((r) => redis.proc.once('exit', r));
    const downAt = Date.now();
    // the outage is this test's input
    await waitFor(() => Date.now() - downAt > OUTAGE_MS, 2 * OUTAGE_MS, 'the outage to last past JOB_LEASE');
    // the case at hand: the engine still runs when Redis comes back
    const pid = worker.proc!.pid!;
    const before = cpuSeconds(pid);
    await new Promise((r) => setTimeout(r, 300));
    // (on a fast machine the engine may be done by now: then this is the engine-finished case)
    console.log(`  ${worker.name}'s engine ${cpuSeconds(pid) - before > 0.03 ? 'still runs' : 'is done'} when Redis comes back`);
    await redis.restart();
    const st = await pollStatus(a.url, id, isTerminalStatus, 90_000);
    assert.is(st.status, 'completed', JSON.stringify(st));
    const log = await sse.done;
    assert.is(gapsAndDuplicates(log), '');
    const indexes = log.filter((e) => e.type === 'segment').map((e) => e.data.index);
    assert.equal(indexes, [...new Set(indexes)], 'no segment index twice');
    const results = (await getJson(`${a.url}/api/v1/video/results/${id}`)).body.results;
    assert.is(results.total_segments_analyzed, 45);
    assert.equal([...indexes].sort((x, y) => x - y), results.all_analyses.map((s: any) => s.index), 'the log has every segment of the results');
    for (const n of cluster.nodes) assert.ok(n.alive(), `${n.name} is still running`);
  } catch (err) {
    (err as Error).message += `\n${clusterOutput(cluster)}`;
    throw err;
  }
});

/** CPU seconds a process used so far (utime + stime). */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

test.run();
