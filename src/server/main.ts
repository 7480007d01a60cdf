// Entry point: `npm start`.
import { createSignalEngine } from '../engine/index.js';
import { startServer } from './app.js';
import { loadConfig } from './config.js';

const config = loadConfig();
const engine = createSignalEngine();
const server = await startServer(config, engine);
console.log(`video analysis service listening on http://${config.host}:${server.port} (engine: ${engine.info.name}, data: ${config.dataDir})`);

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
