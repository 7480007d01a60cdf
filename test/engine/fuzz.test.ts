// Fuzzing: random byte flips, zeroed ranges and truncations of valid files. Every run must end
// with a result or an EngineError (never a crash or a hang), within a time budget.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSignalEngine, EngineError, extractFrames, probe } from '../../src/engine/index.js';
import { activeThreads } from '../../src/engine/native.js';
import { ffmpeg, makeTestVideo } from '../helpers/media.js';
import { mulberry32 } from '../helpers/prng.js';
import { tempDir, within } from './util.js';

const tmp = tempDir();
const engine = createSignalEngine();
const BUDGET_MS = Number(process.env.FUZZ_MS ?? 20_000);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
let sources: Buffer[] = [];

test.before(async () => {
  const mp4 = await makeTestVideo(tmp.dir, { seconds: 3, width: 192, height: 108, fps: 15, audio: true, name: 'seed.mp4' });
  const webm = join(tmp.dir, 'seed.webm');
  await ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=15:duration=3', '-f', 'lavfi', '-i', 'sine=duration=3',
    '-c:v', 'libvpx', '-deadline', 'realtime', '-b:v', '200k', '-c:a', 'libopus', webm]);
  const mkv = join(tmp.dir, 'seed.mkv');
  await ffmpeg(['-i', mp4, '-c', 'copy', mkv]);
  sources = [readFileSync(mp4), readFileSync(webm), readFileSync(mkv)];
});
test.after(async () => {
  await engine.close();
  tmp.remove();
});


function mutate(src: Buffer, rand: () => number): { data: Buffer; how: string } {
  const data = Buffer.from(src);
  const kind = Math.floor(rand() * 4);
  if (kind === 0) {
    const n = 1 + Math.floor(rand() * 20);
    for (let i = 0; i < n; i++) data[Math.floor(rand() * data.length)] = Math.floor(rand() * 256);
    return { data, how: `${n} random bytes` };
  }
  if (kind === 1) {
    const len = Math.floor(rand() * data.length);
    return { data: data.subarray(0, len), how: `truncated to ${len}` };
  }
  if (kind === 2) {
    // Damage the header region, where sizes and counts live.
    const n = 1 + Math.floor(rand() * 8);
    for (let i = 0; i < n; i++) data[Math.floor(rand() * Math.min(data.length, 4096))] ^= 1 << Math.floor(rand() * 8);
    return { data, how: `${n} header bit flips` };
  }
  const start = Math.floor(rand() * data.length);
  const len = Math.floor(rand() * 2000);
  data.fill(rand() < 0.5 ? 0 : 0xff, start, Math.min(data.length, start + len));
  return { data, how: `filled ${len} bytes at ${start}` };
}

test(`random corruptions end in a result or an EngineError (seed ${SEED})`, async () => {
  const rand = mulberry32(SEED);
  const deadline = Date.now() + BUDGET_MS;
  let rounds = 0;
  const outcomes: Record<string, number> = {};
  while (Date.now() < deadline) {
    const src = sources[rounds % sources.length];
    const { data, how } = mutate(src, rand);
    const file = join(tmp.dir, `fuzz_${rounds % 4}.bin`);
    writeFileSync(file, data);
    const what = `round ${rounds} (${how}, source ${rounds % sources.length}, seed ${SEED})`;
    const type = rand() < 0.5 ? 'highlights' : 'workout';
    const job =
      type === 'highlights'
        ? engine.analyze({ type, file, params: { min_significance: 6, max_highlights: 10 } })
        : engine.analyze({ type, file, params: { segment_duration: 1 } });
    try {
      await within(job.result, 10_000, what);
      outcomes.result = (outcomes.result ?? 0) + 1;
    } catch (err) {
      assert.instance(err, EngineError, `${what}: ${String(err)}`);
      const e = err as EngineError;
      assert.ok(['unsupported_media', 'decode_error'].includes(e.code), `${what}: ${e.code} ${e.message}`);
      assert.ok(e.message.length > 0);
      outcomes[e.code] = (outcomes[e.code] ?? 0) + 1;
    }
    if (rounds % 3 === 0) {
      try {
        const frames = await within(extractFrames(file, [0, 1.5, 2.9], 64), 10_000, `frames ${what}`);
        assert.ok(frames.every((f) => f.data.length === f.width * f.height * 3));
      } catch (err) {
        assert.instance(err, EngineError, `frames ${what}: ${String(err)}`);
      }
      try {
        await within(probe(file), 10_000, `probe ${what}`);
      } catch (err) {
        assert.instance(err, EngineError, `probe ${what}: ${String(err)}`);
      }
    }
    rounds++;
  }
  console.log(`fuzz: ${rounds} rounds, seed ${SEED}, outcomes ${JSON.stringify(outcomes)}`);
  assert.ok(rounds >= 20, `only ${rounds} rounds`);
  await new Promise((r) => setTimeout(r, 50));
  assert.is(activeThreads(), 0, 'no native threads left behind');
});

test.run();
