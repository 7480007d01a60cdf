// npm run analyze -- FILE [--type highlights|workout] [--params JSON] [--events]
// Prints the results JSON on stdout (progress on stderr with --events); exit code 1 on failure.
import { basename } from 'node:path';
import { createSignalEngine, EngineError, ParamsError, parseParams, type AnalysisRequest, type AnalysisType } from './index.js';

function usage(message?: string): never {
  if (message) console.error(message);
  console.error('usage: npm run analyze -- FILE [--type highlights|workout] [--params JSON] [--events]');
  process.exit(2);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let file: string | undefined;
  let type: AnalysisType = 'highlights';
  let params: string | undefined;
  let events = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--type') type = (args[++i] ?? usage('--type needs a value')) as AnalysisType;
    else if (a === '--params') params = args[++i] ?? usage('--params needs a value');
    else if (a === '--events') events = true;
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
  if (events) {
    job.events.subscribe((ev) => {
      if (ev.type === 'progress') console.error(`[${(ev.progress * 100).toFixed(0).padStart(3)}%] ${ev.currentStep} ${ev.segments.completed}/${ev.segments.total}`);
      else console.error(`segment ${JSON.stringify(ev.segment)}`);
    });
  }
  try {
    const result = await job.result;
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } catch (err) {
    const e = err instanceof EngineError ? err : new EngineError('internal', String(err));
    console.error(`${basename(file)}: ${e.code}: ${e.message}`);
    process.exitCode = 1;
  } finally {
    process.off('SIGINT', stop);
    await engine.close();
  }
}

void main();
