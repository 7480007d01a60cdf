// The hooks every cluster test file shares: before its tests, its videos generated in a
// temporary folder and its cluster started (a failure is printed: uvu does not print a failing
// hook's error); after them, followers left open closed (they would reconnect for ever and keep
// the process alive), the cluster stopped, the videos deleted. Without redis-server the file's
// tests are reported skipped, with the reason printed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import { skipWithoutRedis, startCluster, type Cluster, type ClusterOptions } from './cluster.js';
import type { Follower } from './followers.js';
import { makeTestVideo, type TestVideoOptions } from './media.js';

export interface ClusterSuite<V extends string> {
  /** `test`, or `test.skip` without redis-server. */
  it: typeof test | typeof test.skip;
  /** Set once the before hook ran. */
  cluster: Cluster;
  /** Each video's path, by the name it was given. */
  videos: Record<V, string>;
  /** Registers a follower to be closed after the file's tests, and returns it. */
  follow<F extends Follower>(f: F): F;
}

export function clusterSuite<V extends string>(file: string, videos: Record<V, TestVideoOptions>, opts: ClusterOptions): ClusterSuite<V> {
  const skip = skipWithoutRedis(file);
  const followers: Follower[] = [];
  let dir: string | null = null;
  const suite: ClusterSuite<V> = {
    it: skip ? test.skip : test,
    cluster: null as unknown as Cluster,
    videos: {} as Record<V, string>,
    follow: (f) => (followers.push(f), f),
  };
  test.before(async () => {
    if (skip) return;
    try {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vas-cluster-media-'));
      for (const [name, o] of Object.entries(videos) as Array<[V, TestVideoOptions]>) suite.videos[name] = await makeTestVideo(dir, { name: `${name}.mp4`, ...o });
      suite.cluster = await startCluster(opts);
    } catch (err) {
      console.error(err);
      throw err;
    }
  });
  test.after(async () => {
    for (const f of followers) f.close();
    await suite.cluster?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  return suite;
}
