// A socket.io 4 node of the cluster fan-out benchmark's peer (bench/cluster.ts): a socket.io
// server joined to the others through @socket.io/redis-streams-adapter on the given Redis (the
// adapter socket.io's docs recommend for connection-state recovery). Clients send
// `subscribe` with a room and an acknowledgement; prints `READY {"port"}` once it listens.
import http from 'node:http';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { emit } from './proto.js';

const { redisUrl } = JSON.parse(process.argv[2]) as { redisUrl: string };
const redis = new Redis(redisUrl);
const server = http.createServer();
const io = new Server(server, { serveClient: false, adapter: createAdapter(redis) });
io.on('connection', (socket) => {
  socket.on('subscribe', (room: string, ack: () => void) => {
    socket.join(room);
    ack();
  });
});
server.listen(0, '127.0.0.1', () => emit('READY', { port: (server.address() as { port: number }).port }));
