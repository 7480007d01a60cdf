// Real clips and malformed files from ../shared/media (skipped when the folder is absent).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSignalEngine, EngineError, extractFrames, type HighlightsResult, type WorkoutResult } from '../../src/engine/index.js';
import { readManifest, sharedMediaDir, type ManifestEntry } from '../helpers/media.js';
import { collect, within } from './util.js';

const dir = sharedMediaDir();
const engine = createSignalEngine();
const entries: ManifestEntry[] = dir ? readManifest(dir) : [];
const real = entries.filter((e) => !e.edge);
const edge = entries.filter((e) => e.edge);

test.after(() => engine.close());

if (!dir) {
  test.skip('shared media folder not present');
} else {
  test('manifest lists real clips and edge cases', () => {
    assert.ok(real.length > 0 && edge.length > 0);
  });

  for (const clip of real) {
    test(`real clip analyses without error: ${clip.filename}`, async () => {
      const info = await engine.probe(clip.path);
      assert.ok(info.duration > 0 && info.width > 0 && info.height > 0 && info.fps > 0, JSON.stringify(info));
      const { result, error, events } = await collect(engine.analyze({ type: 'highlights', file: clip.path, params: { min_significance: 6, max_highlights: 10 } }));
      assert.ok(result, `${clip.filename}: ${String(error)}`);
      const r = result as HighlightsResult;
      assert.ok(r.total_segments_analyzed >= 2);
      assert.ok(r.all_analyses.every((s) => s.analysis_success), 'every segment decoded');
      const covered = r.all_analyses[r.all_analyses.length - 1].end_timestamp;
      assert.ok(Math.abs(covered - info.duration) < 0.5, `segments cover ${covered} of ${info.duration} s`);
      assert.equal(
        events.filter((e) => e.type === 'segment').map((e) => (e as { segment: unknown }).segment),
        r.all_analyses,
      );
      const w = (await engine.analyze({ type: 'workout', file: clip.path, params: { segment_duration: 5 } }).result) as WorkoutResult;
      assert.is(w.segment_analyses.length, Math.ceil(info.duration / 5 - 0.25));
      const frames = await extractFrames(clip.path, [0, info.duration / 2], 256);
      assert.is(frames.length, 2);
      assert.ok(frames.every((f) => Math.max(f.width, f.height) === 256 && f.data.length === f.width * f.height * 3));
    });
  }

  // What each malformed file should give: a clean error with this code, or a partial result.
  const expected: Record<string, 'result' | 'unsupported_media' | 'decode_error'> = {
    edge_audio_only_two_aac_tracks: 'unsupported_media',
    edge_corrupt_stsc_stco: 'unsupported_media',
    edge_fuzz_bad_header_56B: 'unsupported_media',
    edge_corrupt_h264_bitstream: 'result', // 49 of 50 frames decode
    edge_mediarecorder_truncated_noduration: 'result', // ~7.5 s decode, no duration in the file
  };

  for (const file of edge) {
    test(`malformed file gives a clear error or a sensible partial result: ${file.filename}`, async () => {
      const key = file.filename.replace(/\.[^.]+$/, '');
      const want = expected[key] ?? (/audio only|refuses to open|cannot open|corrupt header/i.test(file.description) ? 'unsupported_media' : undefined);
      const outcome = await within(collect(engine.analyze({ type: 'highlights', file: file.path, params: { min_significance: 6, max_highlights: 10 } })), 30_000, file.filename);
      if (outcome.error) {
        assert.instance(outcome.error, EngineError);
        const e = outcome.error as EngineError;
        assert.ok(e.message.length > 10 && !e.message.includes(file.path), `message: ${e.message}`);
        if (want) assert.is(e.code, want, e.message);
        else assert.ok(e.code === 'unsupported_media' || e.code === 'decode_error', e.code);
        // probe agrees for files that aren't videos at all
        if (e.code === 'unsupported_media') {
          try {
            await engine.probe(file.path);
            assert.unreachable('probe should reject');
          } catch (err) {
            assert.is((err as EngineError).code, 'unsupported_media');
          }
        }
      } else {
        assert.ok(!want || want === 'result', `expected ${want}, got a result`);
        const r = outcome.result as HighlightsResult;
        assert.ok(r.video.duration > 0, `duration ${r.video.duration}`);
        assert.ok(r.all_analyses.length >= 2);
        assert.ok(r.all_analyses.filter((s) => s.analysis_success).length >= 2, 'most of it analysed');
      }
    });
  }

  test('truncated WebM without a duration: duration measured, all decodable video analysed', async () => {
    const f = edge.find((e) => e.filename.startsWith('edge_mediarecorder'));
    if (!f) return;
    const info = await engine.probe(f.path);
    assert.ok(info.duration > 6.5 && info.duration < 8.5, `duration ${info.duration}`);
    const r = (await engine.analyze({ type: 'highlights', file: f.path, params: { min_significance: 6, max_highlights: 10, segment_duration: 2 } })
      .result) as HighlightsResult;
    assert.is(r.all_analyses.length, 4);
  });
}

test.run();
