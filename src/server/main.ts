// Entry point: `npm start`.
import { createEngine } from '../engine/index.js';
import { DataDirInUseError, StorageError } from '../streams/service.js';
import { ListenError, startServer, type RunningServer } from './app.js';
import { loadConfig, type Config } from './config.js';

// A file-size limit (ulimit -f) must make writes fail with EFBIG, which the stores report as a
// full disk, instead of killing the process with SIGXFSZ.
process.on('SIGXFSZ', () => {});

/** Start-up problems an operator fixes: one line and a non-zero exit, no stack trace. */
function exitWith(code: number, message: string): never {
  console.error(`video analysis service: ${message}`);
  process.exit(code);
}

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  exitWith(2, (err as Error).message);
}
const engine = createEngine({ modelDir: config.modelDir, maxTokens: config.modelMaxTokens, temperature: config.modelTemperature });
let server: RunningServer;
try {
  server = await startServer(config, engine);
} catch (err) {
  if (err instanceof DataDirInUseError || err instanceof ListenError) exitWith(1, err.message);
  if (err instanceof StorageError) exitWith(1, `DATA_DIR: ${err.message}`);
  throw err;
}
console.log(`video analysis service listening on http://${config.host}:${server.port} (engine: ${engine.info.name}${engine.info.model ? ` ${engine.info.model}` : ''}, data: ${config.dataDir})`);

let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    console.log(`${sig}: stopping`);
    server.close().then(
      () => process.exit(0),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  });
}
