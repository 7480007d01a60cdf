// One service per port and per DATA_DIR: a second process exits at start with a clear message
// instead of splitting requests with the first (uWS would otherwise share the port) or
// rewriting its journal; a process killed with -9 never blocks the next start.
import fs from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeTestVideo } from '../helpers/media.js';
import { getJson, isTerminalStatus, journalOnly, pollStatus, spawnServer, tempDir, upload, type ChildServer } from '../helpers/server.js';

let dir: string;
let video: string;
const started: ChildServer[] = [];

test.before(async () => {
  dir = tempDir();
  video = await makeTestVideo(dir, { seconds: 3 });
});
test.after(() => {
  for (const s of started) s.proc.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

async function start(env: Record<string, string>): Promise<ChildServer> {
  const s = await spawnServer(env);
  started.push(s);
  return s;
}

/** Starts a process that is expected to refuse to run: its exit code and output. */
async function startRefused(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  try {
    const s = await start(env);
    return { code: null, output: `it started: ${s.output()}` };
  } catch (err) {
    return { code: (err as { exitCode?: number }).exitCode ?? null, output: (err as Error).message };
  }
}

test('a second process on the same DATA_DIR exits at start, naming the holder; the first goes on unharmed', async () => {
  if (journalOnly('with Redis the nodes of a cluster share DATA_DIR: there is no DATA_DIR lock')) return;
  const dataDir = tempDir('vas-data-');
  const a = await start({ DATA_DIR: dataDir });
  const up = await upload(`${a.url}/api/v1/video/upload`, video);
  await pollStatus(a.url, up.body.sessionId, isTerminalStatus);
  const journal = fs.readFileSync(`${dataDir}/sessions/${up.body.sessionId}/events.jsonl`, 'utf8');

  const b = await startRefused({ DATA_DIR: dataDir });
  assert.is(b.code, 1, b.output);
  assert.match(b.output, new RegExp(`DATA_DIR is in use by another running service \\(pid ${a.proc.pid}\\)`));
  assert.not.match(b.output, /at .*\.js:\d+/, 'one line, no stack trace');

  assert.is(fs.readFileSync(`${dataDir}/sessions/${up.body.sessionId}/events.jsonl`, 'utf8'), journal, 'the journal is untouched');
  for (let i = 0; i < 10; i++) assert.is((await getJson(`${a.url}/api/v1/video/status/${up.body.sessionId}`)).body.status, 'completed');
});

test('a second process on the same port exits at start instead of sharing it', async () => {
  const a = await start({ DATA_DIR: tempDir('vas-data-') });
  const b = await startRefused({ DATA_DIR: tempDir('vas-data-'), PORT: String(a.port) });
  assert.is(b.code, 1, b.output);
  assert.match(b.output, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${a.port}: the port is in use`));
  assert.is((await getJson(`${a.url}/health`)).status, 200);
});

test('kill -9 frees DATA_DIR: the next process starts on it with every session', async () => {
  const dataDir = tempDir('vas-data-');
  const a = await start({ DATA_DIR: dataDir });
  const up = await upload(`${a.url}/api/v1/video/upload`, video);
  await pollStatus(a.url, up.body.sessionId, isTerminalStatus);
  a.proc.kill('SIGKILL');
  await a.exited;
  const c = await start({ DATA_DIR: dataDir });
  assert.is((await getJson(`${c.url}/api/v1/video/status/${up.body.sessionId}`)).body.status, 'completed');
});

test('DATA_DIR emptied under a running service: it takes its lock again, and a second process is still refused', async () => {
  if (journalOnly('with Redis the nodes of a cluster share DATA_DIR: there is no DATA_DIR lock')) return;
  const dataDir = tempDir('vas-data-');
  const a = await start({ DATA_DIR: dataDir });
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir);
  const health = await getJson(`${a.url}/health`);
  assert.is(health.body.status, 'healthy', JSON.stringify(health.body));
  const b = await startRefused({ DATA_DIR: dataDir });
  assert.is(b.code, 1, b.output);
  assert.match(b.output, /DATA_DIR is in use/);
});

test('a DATA_DIR that cannot be created: exit 1 with one line, not a hang', async () => {
  const b = await startRefused({ DATA_DIR: '/proc/vas-no-such-dir' });
  assert.is(b.code, 1, b.output);
  assert.match(b.output, /DATA_DIR: Could not create the data directory/);
});

test('a bad setting exits with status 2 and one line naming it', async () => {
  const b = await startRefused({ DATA_DIR: tempDir('vas-data-'), PORT: '70000' });
  assert.is(b.code, 2, b.output);
  assert.match(b.output, /PORT: expected an integer 0-65535, got "70000"/);
  const c = await startRefused({ DATA_DIR: tempDir('vas-data-'), CORS_ORIGINS: 'not a url' });
  assert.is(c.code, 2, c.output);
  assert.match(c.output, /CORS_ORIGINS: expected origins/);
});

test.run();
