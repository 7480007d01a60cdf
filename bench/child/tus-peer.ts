// The peer of the tus ingest benchmark: @tus/server with @tus/file-store on node:http, in its
// own process so its memory is its own. Prints `READY {"port":…}`.
//
//   node dist/bench/child/tus-peer.js <directory>
import http from 'node:http';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';
import { emit } from './proto.js';

const tus = new Server({ path: '/files', datastore: new FileStore({ directory: process.argv[2] }), relativeLocation: true });
const server = http.createServer((req, res) => void tus.handle(req, res));
server.listen(0, '127.0.0.1', () => emit('READY', { port: (server.address() as { port: number }).port }));
