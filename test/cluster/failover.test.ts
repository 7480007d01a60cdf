// Nodes that die, with real processes (two API nodes, two workers, one redis-server, one shared
// DATA_DIR): a worker killed with SIGKILL mid-job (its job is taken over after JOB_LEASE by the
// other worker: each segment once, the take-over in the log, the results of a complete run), and
// an API node killed under 200 followers (they reconnect through the load balancer to the other
// node and resume from their last event: no gap, no duplicate), and the API node that took an
// upload with a webhook killed before the session ends (the other API node sends the webhook once).
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startBalancer } from '../helpers/balancer.js';
import { busyWorker, waitFor, withLogs, type Cluster } from '../helpers/cluster.js';
import { followSse, followWs, gapsAndDuplicates, type Follower, type LogEvent } from '../helpers/followers.js';
import { clusterSuite } from '../helpers/cluster-suite.js';
import { getJson, isTerminalStatus, pollStatus, upload } from '../helpers/server.js';

// the shared hooks (helpers/cluster-suite.ts): the videos, the cluster, skipped without redis-server
const suite = clusterSuite('test/cluster/failover.test.ts', { long: { seconds: 90, width: 640, height: 360 } }, { api: 2, workers: 2, env: { ENGINE_CONCURRENCY: '1', JOB_LEASE: '3s' } });
const { it } = suite;
let cluster: Cluster;
let long: string;
test.before(() => void ({ cluster, videos: { long } } = suite));
const TUS = { 'Tus-Resumable': '1.0.0' };

/** A segment without what names its session (its media URLs), to compare two sessions' results. */
const comparable = (s: any) => {
  const { clip_url, thumbnail_url, ...rest } = s;
  return rest;
};

it('kill -9 a worker mid-job: the other worker takes it over after the lease, each segment once, results of a complete run', () =>
  withLogs(cluster, async () => {
    const params = JSON.stringify({ segment_duration: 2 });
    const up = await upload(`${cluster.api[0].url}/api/v1/video/upload`, long, { params });
    assert.is(up.status, 202);
    const id = up.body.sessionId as string;
    const victim = await busyWorker(cluster);
    await pollStatus(cluster.api[1].url, id, (s) => s.status === 'processing' && s.segments.completed > 0);
    await victim.kill('SIGKILL');
    const st = await pollStatus(cluster.api[1].url, id, isTerminalStatus, 90_000);
    assert.is(st.status, 'completed', JSON.stringify(st));

    const log = await followSse(cluster.api[0].url, id).done;
    assert.is(gapsAndDuplicates(log), '');
    const takeovers = log.filter((e) => e.type === 'progress' && typeof e.data.attempt === 'number');
    assert.is(takeovers.length, 1, 'one take-over progress event');
    assert.is(takeovers[0].data.attempt, 2);
    assert.match(takeovers[0].data.currentStep, /Taken over after an interruption: attempt 2 of 3/);
    const before = log.slice(0, log.indexOf(takeovers[0])).filter((e) => e.type === 'segment').length;
    assert.ok(before > 0, 'segments of the killed run stayed in the log');
    const indexes = log.filter((e) => e.type === 'segment').map((e) => e.data.index);
    assert.equal(indexes, [...new Set(indexes)], 'no segment index twice');
    const results = (await getJson(`${cluster.api[0].url}/api/v1/video/results/${id}`)).body.results;
    assert.equal([...indexes].sort((a, b) => a - b), results.all_analyses.map((s: any) => s.index), 'the log has every segment of the results, once');
    assert.is(results.total_segments_analyzed, 45);

    // The same video analysed without interruption (by the surviving worker) gives the same results.
    const again = await upload(`${cluster.api[1].url}/api/v1/video/upload`, long, { params });
    await pollStatus(cluster.api[1].url, again.body.sessionId, isTerminalStatus, 90_000);
    const clean = (await getJson(`${cluster.api[1].url}/api/v1/video/results/${again.body.sessionId}`)).body.results;
    assert.equal(results.all_analyses.map(comparable), clean.all_analyses.map(comparable));
    assert.equal(results.highlights.map(comparable), clean.highlights.map(comparable));
    await victim.start();
  }));

it('kill -9 an API node under 200 followers (SSE and WebSocket through the balancer): all resume on the other node, no gap, no duplicate', () =>
  withLogs(cluster, async () => {
    const [doomed, survivor] = cluster.api;
    const lb = await startBalancer(cluster.api.map((n) => n.port));
    const followers: Follower[] = [];
    try {
      const bytes = fs.readFileSync(long);
      // The session is a tus upload sent to the survivor in chunks: its events come when this
      // test sends them, before, during and after the kill.
      const created = await fetch(`${survivor.url}/api/v1/video/uploads`, {
        method: 'POST',
        headers: { ...TUS, 'Upload-Length': String(bytes.length), 'Upload-Metadata': `params ${Buffer.from(JSON.stringify({ segment_duration: 2 })).toString('base64')}` },
      });
      assert.is(created.status, 201);
      const id = created.headers.get('location')!.split('/').pop()!;
      let offset = 0;
      const patch = async (n: number) => {
        const res = await fetch(`${survivor.url}/api/v1/video/uploads/${id}`, {
          method: 'PATCH',
          headers: { ...TUS, 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' },
          body: bytes.subarray(offset, offset + n),
        });
        assert.is(res.status, 204, await res.text());
        offset = Number(res.headers.get('upload-offset'));
      };

      for (let i = 0; i < 100; i++) followers.push(followSse(lb.url, id), followWs(lb.url, id));
      const seen = (n: number) => () => followers.every((f) => f.events.length >= n);
      await waitFor(seen(1), 30_000, 'every follower to get the first event');
      await patch(Math.floor(bytes.length / 4));
      await waitFor(seen(2), 30_000, 'every follower to get the first upload event');
      const onDoomed = lb.connections().get(doomed.port) ?? 0;
      assert.ok(onDoomed >= 50, `the balancer spread the followers (${onDoomed} on ${doomed.name})`);

      await doomed.kill('SIGKILL');
      // events while the doomed node's followers are reconnecting
      await patch(Math.floor(bytes.length / 4));
      await patch(bytes.length - offset);
      let timer: NodeJS.Timeout | undefined;
      const logs = await Promise.race([
        Promise.all(followers.map((f) => f.done)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`followers not done: ${followers.filter((f) => !f.events.some((e) => e.type === 'completed')).length}`)), 90_000);
        }),
      ]).finally(() => clearTimeout(timer));
      const reference: LogEvent[] = await followSse(survivor.url, id).done;
      assert.is(gapsAndDuplicates(reference), '');
      assert.is(reference.at(-1)!.type, 'completed');
      logs.forEach((log, i) => {
        assert.is(gapsAndDuplicates(log), '', `follower ${i}`);
        assert.equal(log, reference, `follower ${i} has the whole log`);
      });
      const reconnects = followers.reduce((n, f) => n + f.reconnects, 0);
      assert.ok(reconnects >= onDoomed, `${reconnects} reconnects for ${onDoomed} followers cut off`);
    } finally {
      for (const f of followers) f.close();
      await lb.close();
      if (!doomed.alive()) await doomed.start();
    }
  }));

it('kill -9 the API node that took an upload with a webhook_url before its session ends: the other API node sends the webhook, once', () =>
  withLogs(cluster, async () => {
    const [doomed, survivor] = cluster.api;
    const got: Array<{ id: string; body: any }> = [];
    const rx = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        got.push({ id: String(req.headers['webhook-id']), body: JSON.parse(body) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => rx.listen(0, '127.0.0.1', r));
    try {
      const hook = `http://127.0.0.1:${(rx.address() as AddressInfo).port}/hook`;
      const up = await upload(`${doomed.url}/api/v1/video/upload`, long, { params: JSON.stringify({ segment_duration: 2 }), webhook_url: hook });
      assert.is(up.status, 202);
      const id = up.body.sessionId as string;
      await pollStatus(survivor.url, id, (s) => s.status === 'processing');
      await doomed.kill('SIGKILL');
      const st = await pollStatus(survivor.url, id, isTerminalStatus, 90_000);
      assert.is(st.status, 'completed', JSON.stringify(st));
      await waitFor(() => got.length > 0, 15_000, 'the webhook');
      assert.is(got[0].body.sessionId, id);
      assert.is(got[0].body.status, 'completed');
      assert.match(got[0].id, /^whd_/);
      const view = await pollStatus(survivor.url, id, (s) => s.webhook?.state === 'delivered');
      assert.is(view.webhook.deliveryId, got[0].id);
      // the killed node back: nothing is sent again
      await doomed.start();
      await new Promise((r) => setTimeout(r, 2000));
      assert.is(got.length, 1, 'sent once');
    } finally {
      rx.closeAllConnections();
      rx.close();
      if (!doomed.alive()) await doomed.start();
    }
  }));

test.run();
