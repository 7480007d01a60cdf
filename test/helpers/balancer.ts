// A small TCP round-robin load balancer in front of a cluster's API nodes, as an operator's
// HAProxy in `mode tcp` would be: it forwards bytes both ways untouched, so WebSocket upgrades
// pass and SSE is never buffered. Each new connection goes to the next backend that accepts it;
// a backend that refuses (a dead node) is skipped, so clients that reconnect after a node died
// land on a live one. A node's death closes its clients' connections (its sockets close), which
// is what those clients see behind a real balancer.
import net from 'node:net';

export interface Balancer {
  url: string;
  port: number;
  /** Open client connections per backend port. */
  connections(): Map<number, number>;
  close(): Promise<void>;
}

const CONNECT_TIMEOUT_MS = 1000;

/** Connects to the first backend from `start` (round robin) that accepts, or null if none does. */
function connectAny(ports: number[], start: number): Promise<{ socket: net.Socket; port: number } | null> {
  return new Promise((resolve) => {
    const attempt = (k: number) => {
      if (k >= ports.length) return resolve(null);
      const port = ports[(start + k) % ports.length];
      const socket = net.connect({ port, host: '127.0.0.1' });
      const fail = () => {
        socket.destroy();
        attempt(k + 1);
      };
      socket.setTimeout(CONNECT_TIMEOUT_MS, fail);
      socket.once('error', fail);
      socket.once('connect', () => {
        socket.setTimeout(0);
        socket.removeListener('error', fail);
        resolve({ socket, port });
      });
    };
    attempt(0);
  });
}

export async function startBalancer(backendPorts: number[]): Promise<Balancer> {
  let next = 0;
  const open = new Map<net.Socket, { upstream: net.Socket | null; port: number }>();
  const server = net.createServer({ pauseOnConnect: true }, async (client) => {
    client.on('error', () => client.destroy());
    const entry = { upstream: null as net.Socket | null, port: 0 };
    open.set(client, entry);
    client.once('close', () => {
      open.delete(client);
      entry.upstream?.destroy();
    });
    const got = await connectAny(backendPorts, next++ % backendPorts.length);
    if (!got || client.destroyed) {
      got?.socket.destroy();
      client.destroy();
      return;
    }
    const upstream = got.socket;
    entry.upstream = upstream;
    entry.port = got.port;
    upstream.setNoDelay(true);
    client.setNoDelay(true);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    connections() {
      const m = new Map<number, number>();
      for (const e of open.values()) if (e.upstream) m.set(e.port, (m.get(e.port) ?? 0) + 1);
      return m;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const [c, e] of open) (c.destroy(), e.upstream?.destroy());
        server.close(() => resolve());
      }),
  };
}
