// Entry point: `npm start` (which execs `node dist/src/server/main.js`, so that signals sent to
// its pid reach this process; process managers can run that command directly).
import { createEngine } from '../engine/index.js';
import { DataDirInUseError, StorageError } from '../streams/service.js';
import { ListenError, startServer, type RunningServer } from './app.js';
import { loadConfig, type Config } from './config.js';
import { createLogger, flushLogger } from './log.js';

// A file-size limit (ulimit -f) must make writes fail with EFBIG, which the stores report as a
// full disk, instead of killing the process with SIGXFSZ.
process.on('SIGXFSZ', () => {});

/** Start-up problems an operator fixes: one line and a non-zero exit, no stack trace. */
function exitWith(code: number, message: string): never {
  process.stderr.write(`video analysis service: ${message}\n`);
  process.exit(code);
}

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  exitWith(2, (err as Error).message);
}
const log = createLogger(config.logLevel);
// Every promise the server leaves unawaited handles its own failure; one that does not is a bug,
// logged rather than allowed to end a process that holds other clients' streams.
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled promise rejection (a bug)'));
const engine = createEngine({ modelDir: config.modelDir, maxTokens: config.modelMaxTokens, temperature: config.modelTemperature });
let server: RunningServer;
try {
  server = await startServer(config, engine, log);
} catch (err) {
  if (err instanceof DataDirInUseError || err instanceof ListenError) exitWith(1, err.message);
  if (err instanceof StorageError) exitWith(1, `DATA_DIR: ${err.message}`);
  throw err;
}
// The listening line is written even when LOG_LEVEL is above info (not when silent): operators
// and the tests look for it.
const startLog = config.logLevel === 'silent' ? log : log.child({}, { level: 'info' });
startLog.info(
  { host: config.host, port: server.port, engine: engine.info.name, model: engine.info.model, dataDir: config.dataDir, logLevel: config.logLevel, role: config.role, redis: !!config.redisUrl },
  `video analysis service listening on http://${config.host}:${server.port} (engine: ${engine.info.name}${engine.info.model ? ` ${engine.info.model}` : ''}, data: ${config.dataDir}${config.redisUrl ? `, role: ${config.role}, sessions on Redis` : ''})`,
);

let stopping = false;
const exit = async (code: number) => {
  await flushLogger(log);
  process.exit(code);
};
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) {
      // a second signal: stop now, without waiting for the running analyses
      log.warn({ signal: sig }, 'second signal: stopping now');
      server.close().then(() => exit(0), () => exit(1));
      return;
    }
    stopping = true;
    log.info({ signal: sig, graceMs: config.shutdownGraceMs }, `${sig}: draining (no new uploads; running analyses get up to ${config.shutdownGraceMs} ms)`);
    server.drain(config.shutdownGraceMs).then(
      () => {
        log.info('stopped');
        return exit(0);
      },
      (err) => {
        log.fatal({ err }, 'shutdown failed');
        return exit(1);
      },
    );
  });
}
