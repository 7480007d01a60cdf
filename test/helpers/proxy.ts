// A TCP proxy in front of a test server whose connections can be cut at once: a network drop
// as clients see it (their sockets close mid-stream), with the server untouched.
import net from 'node:net';

export interface CuttingProxy {
  url: string;
  port: number;
  /** Destroys every open connection (both sides). */
  cut(): number;
  close(): void;
}

export async function cuttingProxy(targetPort: number): Promise<CuttingProxy> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    cut: () => {
      const n = pairs.size;
      for (const [a, b] of [...pairs]) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
      return n;
    },
    close: () => {
      server.close();
      for (const [a, b] of pairs) (a.destroy(), b.destroy());
    },
  };
}
