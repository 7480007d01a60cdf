// The logger the streams layer writes to: pino's interface (the server creates the instance;
// tests and tools that pass none get a silent one).
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export const silentLogger: Logger = pino({ level: 'silent' });
