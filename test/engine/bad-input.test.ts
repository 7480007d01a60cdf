// Generated bad inputs: each ends in a clear EngineError or a sensible partial result.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSignalEngine, EngineError, type HighlightsResult } from '../../src/engine/index.js';
import { ffmpeg, makeAudioOnly, makeTestVideo } from '../helpers/media.js';
import { collect, tempDir, within } from './util.js';

const tmp = tempDir();
const engine = createSignalEngine();
let moovAtEnd: string;
let faststart: string;

test.before(async () => {
  moovAtEnd = await makeTestVideo(tmp.dir, { seconds: 10, width: 320, height: 240, audio: true, name: 'moov_end.mp4' });
  faststart = join(tmp.dir, 'faststart.mp4');
  await ffmpeg(['-i', moovAtEnd, '-c', 'copy', '-movflags', '+faststart', faststart]);
});
test.after(async () => {
  await engine.close();
  tmp.remove();
});

const params = { min_significance: 6, max_highlights: 10 };

async function analyze(file: string) {
  return within(collect(engine.analyze({ type: 'highlights', file, params })), 20_000, file);
}

async function expectError(file: string, code: string, pattern?: RegExp) {
  const { error, completed } = await analyze(file);
  assert.instance(error, EngineError, `${file}: expected an EngineError`);
  assert.is((error as EngineError).code, code, (error as Error).message);
  if (pattern) assert.match((error as Error).message, pattern);
  assert.not.match((error as Error).message, tmp.dir, 'no server paths in messages');
  assert.ok(completed, 'events completed');
}

test('files that are not videos → unsupported_media', async () => {
  await expectError(join(tmp.dir, 'missing.mp4'), 'unsupported_media', /not found/);
  const empty = join(tmp.dir, 'empty.mp4');
  writeFileSync(empty, '');
  await expectError(empty, 'unsupported_media');
  const text = join(tmp.dir, 'text.mp4');
  writeFileSync(text, 'hello\n'.repeat(5000));
  await expectError(text, 'unsupported_media');
  const random = join(tmp.dir, 'random.webm');
  writeFileSync(random, Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 2654435761) >>> 24)));
  await expectError(random, 'unsupported_media');
  await expectError(await makeAudioOnly(tmp.dir), 'unsupported_media', /audio only/);
  const png = join(tmp.dir, 'still.png');
  await ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=320x240', '-frames:v', '1', png]);
  await expectError(png, 'unsupported_media', /still image/);
  const dir = join(tmp.dir, 'a-directory.mp4');
  mkdirSync(dir);
  await expectError(dir, 'unsupported_media');
});

test('truncated MP4 with the index at the end cannot be opened → unsupported_media', async () => {
  const data = readFileSync(moovAtEnd);
  const cut = join(tmp.dir, 'cut_moov_end.mp4');
  writeFileSync(cut, data.subarray(0, Math.floor(data.length / 2)));
  await expectError(cut, 'unsupported_media');
});

test('truncated MP4 with the index first → partial result over what is there', async () => {
  const data = readFileSync(faststart);
  const cut = join(tmp.dir, 'cut_faststart.mp4');
  writeFileSync(cut, data.subarray(0, Math.floor(data.length * 0.6)));
  const { result, error } = await analyze(cut);
  assert.ok(result, String(error));
  const r = result as HighlightsResult;
  const covered = r.all_analyses[r.all_analyses.length - 1].end_timestamp;
  assert.ok(covered > 3 && covered < 8, `analysed ${covered} s of 10`);
  assert.ok(r.all_analyses.every((s) => s.analysis_success));
});

test('a damaged stretch in the middle → result; the rest still analysed', async () => {
  const data = Buffer.from(readFileSync(faststart));
  const start = Math.floor(data.length * 0.4);
  data.fill(0, start, start + Math.floor(data.length * 0.1));
  const damaged = join(tmp.dir, 'damaged.mp4');
  writeFileSync(damaged, data);
  const { result, error } = await analyze(damaged);
  assert.ok(result, String(error));
  const r = result as HighlightsResult;
  assert.ok(Math.abs(r.all_analyses[r.all_analyses.length - 1].end_timestamp - 10) < 0.5);
  assert.ok(r.all_analyses.filter((s) => s.analysis_success).length >= r.all_analyses.length - 2);
});

test.run();
