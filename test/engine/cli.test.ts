// `npm run analyze`: a summary by default, the full JSON with --json (valid JSON on stdout
// through `npm run -s`), a progress bar with an ETA on stderr only when it is a terminal.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeTestVideo } from '../helpers/media.js';
import { ROOT, tempDir } from '../helpers/server.js';

let dir: string;
let video: string;
const CLI = path.join(ROOT, 'dist/src/engine/cli.js');

test.before(async () => {
  dir = tempDir();
  video = await makeTestVideo(dir, { seconds: 12, width: 320, height: 240, name: 'clip.mp4' });
});
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('default: a short human summary on stdout, no progress bar when stderr is not a terminal', () => {
  const r = spawnSync(process.execPath, [CLI, video], { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^clip\.mp4: 00:12 320x240, \d+ segments in [\d.]+ s \(engine: signal\)\n\d+ highlights?:/);
  assert.throws(() => JSON.parse(r.stdout));
  assert.ok(r.stdout.split('\n').length < 20, 'short');
  assert.not.match(r.stderr, /ETA|\r/, 'no bar on a pipe');
});

test('--json through `npm run -s analyze`: stdout is exactly the results JSON', () => {
  const r = spawnSync('npm', ['run', '-s', 'analyze', '--', video, '--type', 'workout', '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.is(result.analysis_type, 'workout_with_timestamps');
  assert.ok(Array.isArray(result.segment_analyses) && result.segment_analyses.length > 0);
});

test('a terminal stderr gets a progress bar with an ETA', async () => {
  // `script` runs the CLI on a pseudo-terminal (stdout and stderr both go to it)
  const proc = spawn('script', ['-qefc', `${process.execPath} ${CLI} ${video}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  const code = await new Promise((r) => proc.on('exit', r));
  assert.is(code, 0, out);
  assert.match(out, /\r\[[#-]{24}\] +\d+% ETA (\d\d:\d\d|--:--)/);
  assert.match(out, /highlights?:/, 'then the summary');
});

test('a file that is not a video: exit 1 and one line on stderr', () => {
  const bad = path.join(dir, 'bad.mp4');
  fs.writeFileSync(bad, 'not a video at all');
  const r = spawnSync(process.execPath, [CLI, bad, '--json'], { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 1);
  assert.is(r.stdout, '');
  assert.match(r.stderr, /^bad\.mp4: unsupported_media: /);
});

test.run();
