// The README's curl quick start, run as written (bash, ffmpeg, curl) against a real server: only
// the address is the test server's. It must upload, stream the events to the end and print results.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
let srv: TestServer;
let dir: string;
test.before(async () => {
  dir = tempDir();
  srv = await startTestServer();
});
test.after(async () => {
  await srv.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The first ```sh block under "## Quick start with curl". */
function quickStart(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Quick start with curl'));
  assert.ok(section, 'README has a "Quick start with curl" section');
  const m = /```sh\n([\s\S]*?)```/.exec(section!);
  assert.ok(m, 'with a sh block');
  return m![1];
}

test('the README quick start works pasted into a shell', async () => {
  const script = quickStart();
  assert.match(script, /BASE=http:\/\/localhost:5001/);
  // Asynchronous: the server answers from this process meanwhile.
  const { stdout } = await run('bash', ['-eo', 'pipefail', '-c', script.replace('http://localhost:5001', srv.url)], { cwd: dir, timeout: 120_000, maxBuffer: 16 << 20 });
  const id = /^session ([A-Za-z0-9_-]{21})$/m.exec(stdout)?.[1];
  assert.ok(id, stdout.slice(0, 500));
  assert.match(stdout, /^event: completed$/m);
  assert.match(stdout, new RegExp(`"results_url":"/api/v1/video/results/${id}"`));
  const results = JSON.parse(stdout.trim().split('\n').at(-1)!);
  assert.is(results.sessionId, id);
  assert.is(results.results.analysis_type, 'highlights');
  assert.is(results.results.settings.min_significance, 5);
});

test.run();
