// Entry point: `npm start`.
import { createEngine } from '../engine/index.js';
import { startServer } from './app.js';
import { loadConfig } from './config.js';

const config = loadConfig();
const engine = createEngine({ modelDir: config.modelDir, maxTokens: config.modelMaxTokens, temperature: config.modelTemperature });
const server = await startServer(config, engine);
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
