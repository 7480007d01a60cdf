// npm run eval [-- --quick] [-- --json FILE]: analyses the labelled videos (generated ones plus
// the real clips of ../shared/media with the hand-made labels in eval/labels) with the engine of
// this checkout and with the frozen baseline (today's scorer at 65e47cd, eval/baseline), and
// prints precision/recall of the highlights, rep-count errors and workout segment agreement.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSignalEngine, type HighlightsResult, type WorkoutResult } from '../src/engine/index.js';
import { baselineHighlights, baselineWorkout } from './baseline/run.js';
import { generateCases, type EvalCase, type Labels } from './generate.js';
import { addCounts, precision, recall, scoreHighlights, scoreReps, segmentDisagreements, type HighlightCounts } from './score.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : null;
const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

function sharedCases(): EvalCase[] {
  const dir = resolve(root, '..', 'shared', 'media');
  if (!existsSync(join(dir, 'MANIFEST.tsv'))) return [];
  const labels = JSON.parse(readFileSync(join(root, 'eval', 'labels', 'shared-media.json'), 'utf8')) as { clips: Record<string, Labels> };
  return Object.entries(labels.clips)
    .filter(([file]) => existsSync(join(dir, file)))
    .map(([file, l]) => ({ name: file, type: 'highlights', path: join(dir, file), duration: 0, labels: l, source: 'shared' }));
}

const zero: HighlightCounts = { predicted: 0, correct: 0, spans: 0, spansFound: 0 };
const pct = (x: number) => `${Math.round(x * 100)}%`;
const cameraWords: Record<string, RegExp> = { pan: /pans?\b/, zoom: /zoom/, handheld: /handheld|shak/, fade: /fade/ };

interface Row {
  name: string;
  source: string;
  before: string;
  after: string;
  camera: string;
  warnings: string;
}

async function main(): Promise<void> {
  const cases = [...(await generateCases(quick)), ...sharedCases()];
  const engine = createSignalEngine();
  const rows: Row[] = [];
  const totals = { before: { generated: zero, shared: zero }, after: { generated: zero, shared: zero } };
  let cameraNamed = 0;
  let cameraCases = 0;
  let warningsOk = 0;
  let warningCases = 0;
  const workoutRows: string[] = [];
  for (const c of cases) {
    if (c.type === 'highlights') {
      const params = { min_significance: 6, max_highlights: 10 };
      let after: HighlightsResult;
      try {
        after = (await engine.analyze({ type: 'highlights', file: c.path, params }).result) as HighlightsResult;
      } catch (err) {
        rows.push({ name: c.name, source: c.source, before: '-', after: `error: ${(err as Error).message}`, camera: '', warnings: '' });
        continue;
      }
      const before = await baselineHighlights(c.path);
      const b = scoreHighlights(before.highlights, c.labels);
      const a = scoreHighlights(after.highlights, c.labels);
      const src = c.source as 'generated' | 'shared';
      totals.before[src] = addCounts(totals.before[src], b);
      totals.after[src] = addCounts(totals.after[src], a);
      const fmt = (h: HighlightCounts) => `${h.correct}/${h.predicted} right, ${h.spansFound}/${h.spans} found`;
      let camera = '';
      if (c.labels.camera) {
        cameraCases++;
        const re = cameraWords[c.labels.camera];
        const named = after.all_analyses.some((s) => re.test(s.description));
        if (named) cameraNamed++;
        camera = `${c.labels.camera}: ${named ? 'named' : 'missed'}`;
      }
      let warnings = '';
      const codes = ((after as { warnings?: { code: string }[] }).warnings ?? []).map((w) => w.code);
      if (c.labels.warnings) {
        warningCases++;
        const ok = c.labels.warnings.every((w) => codes.includes(w));
        if (ok) warningsOk++;
        warnings = `${ok ? 'ok' : 'MISSING'} (${codes.join(', ') || 'none'})`;
      } else if (codes.length) warnings = codes.join(', ');
      rows.push({ name: c.name, source: c.source, before: fmt(b), after: fmt(a), camera, warnings });
    } else {
      for (const segment_duration of quick ? [5] : [5, 15]) {
        const after = (await engine.analyze({ type: 'workout', file: c.path, params: { segment_duration } }).result) as WorkoutResult;
        const before = await baselineWorkout(c.path, segment_duration);
        const rb = scoreReps(before.exercise_steps, c.labels);
        const ra = scoreReps(after.exercise_steps, c.labels);
        const db = segmentDisagreements(before.segment_analyses, c.labels);
        const da = segmentDisagreements(after.segment_analyses, c.labels);
        const n = after.segment_analyses.length;
        workoutRows.push(
          `| ${c.name}, ${segment_duration} s segments | ${rb.totalError} / ${rb.setError} | ${ra.totalError} / ${ra.setError} | ${db}/${before.segment_analyses.length} | ${da}/${n} |`,
        );
      }
    }
  }
  await engine.close();

  const out: string[] = [];
  out.push(`Highlights at the default min_significance 6 (before = frozen scorer of 65e47cd on the same measurements).`);
  out.push('');
  out.push('| case | source | before | after | camera words | warnings |');
  out.push('| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) out.push(`| ${r.name} | ${r.source} | ${r.before} | ${r.after} | ${r.camera} | ${r.warnings} |`);
  out.push('');
  out.push('| set | before precision | before recall | after precision | after recall |');
  out.push('| --- | --- | --- | --- | --- |');
  for (const src of ['generated', 'shared'] as const) {
    const b = totals.before[src];
    const a = totals.after[src];
    if (b.predicted + b.spans + a.predicted === 0) continue;
    out.push(`| ${src} | ${pct(precision(b))} (${b.correct}/${b.predicted}) | ${pct(recall(b))} (${b.spansFound}/${b.spans}) | ${pct(precision(a))} (${a.correct}/${a.predicted}) | ${pct(recall(a))} (${a.spansFound}/${a.spans}) |`);
  }
  out.push('');
  out.push(`Camera movement named in the description: ${cameraNamed}/${cameraCases}. Expected warnings present: ${warningsOk}/${warningCases}.`);
  out.push('');
  out.push('| workout | before rep error total / per set | after | before segments disagreeing | after |');
  out.push('| --- | --- | --- | --- | --- |');
  out.push(...workoutRows);
  const text = out.join('\n');
  console.log(text);
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ rows, totals, workoutRows, cameraNamed, cameraCases, warningsOk, warningCases }, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
