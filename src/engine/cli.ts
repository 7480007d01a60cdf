// npm run analyze -- FILE [--type highlights|workout] [--params JSON] [--json] [--events]
// Prints a short summary on stdout, or with --json the full results JSON (use `npm run -s` so
// that npm's own banner does not precede it). A progress bar with an ETA goes to stderr when it
// is a terminal; --events prints every engine event on stderr instead. Exit code 1 on failure.
import { basename } from 'node:path';
import { createSignalEngine, EngineError, formatClock, ParamsError, parseParams, type AnalysisRequest, type AnalysisResult, type AnalysisType } from './index.js';
import { ProgressBar } from './progress-bar.js';

const USAGE = 'usage: npm run -s analyze -- FILE [--type highlights|workout] [--params JSON] [--json] [--events]';

function usage(message?: string): never {
  if (message) console.error(message);
  console.error(USAGE);
  process.exit(2);
}

/** A few lines a person reads: what was found, where. */
function summarize(file: string, r: AnalysisResult): string {
  const head = `${basename(file)}: ${formatClock(r.video.duration)} ${r.video.width}x${r.video.height}, ${r.total_segments_analyzed} segments in ${r.processing_time_seconds.toFixed(1)} s (engine: ${r.engine.name})`;
  if (r.analysis_type === 'highlights') {
    const lines = [head, `${r.highlights_found} highlight${r.highlights_found === 1 ? '' : 's'}:`];
    for (const h of r.highlights) lines.push(`  ${h.timestamp_formatted}  score ${h.significance_score.toFixed(2)}  ${h.description}`);
    return lines.join('\n');
  }
  const lines = [head, `${r.summary.total_exercises_identified} exercise${r.summary.total_exercises_identified === 1 ? '' : 's'}, ${r.summary.total_reps} reps:`];
  for (const s of r.exercise_steps) lines.push(`  ${s.timestamp_formatted}  ${s.exercise_name}  ${s.rep_count} reps`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let file: string | undefined;
  let type: AnalysisType = 'highlights';
  let params: string | undefined;
  let events = false;
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--type') type = (args[++i] ?? usage('--type needs a value')) as AnalysisType;
    else if (a === '--params') params = args[++i] ?? usage('--params needs a value');
    else if (a === '--events') events = true;
    else if (a === '--json') json = true;
    else if (a === '-h' || a === '--help') usage();
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else if (!file) file = a;
    else usage('only one file');
  }
  if (!file) usage();
  if (type !== 'highlights' && type !== 'workout') usage(`--type must be highlights or workout`);
  let request: AnalysisRequest;
  try {
    request = type === 'highlights'
      ? { type, file, params: parseParams('highlights', params) }
      : { type, file, params: parseParams('workout', params) };
  } catch (err) {
    if (err instanceof ParamsError) usage(`invalid params: ${err.message}`);
    throw err;
  }
  const engine = createSignalEngine();
  const job = engine.analyze(request);
  const stop = () => job.cancel();
  process.once('SIGINT', stop);
  const bar = !events && process.stderr.isTTY ? new ProgressBar(process.stderr) : null;
  job.events.subscribe((ev) => {
    if (ev.type === 'progress') {
      bar?.update(ev.progress, ev.currentStep, ev.segments);
      if (events) console.error(`[${(ev.progress * 100).toFixed(0).padStart(3)}%] ${ev.currentStep} ${ev.segments.completed}/${ev.segments.total}`);
    } else if (events) console.error(`segment ${JSON.stringify(ev.segment)}`);
  });
  try {
    const result = await job.result;
    bar?.clear();
    process.stdout.write(json ? JSON.stringify(result, null, 2) + '\n' : summarize(file, result) + '\n');
  } catch (err) {
    bar?.clear();
    const e = err instanceof EngineError ? err : new EngineError('internal', String(err));
    console.error(`${basename(file)}: ${e.code}: ${e.message}`);
    process.exitCode = 1;
  } finally {
    process.off('SIGINT', stop);
    await engine.close();
  }
}

void main();
