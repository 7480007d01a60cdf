// A TCP proxy in front of a test server whose connections can be cut at once: a network drop
// as clients see it (their sockets close mid-stream), with the server untouched. It can also
// drop what passes without closing anything: the server's replies only (a reply lost after the
// command ran), or everything (a partition: both sides' sockets stay open and hear nothing).
import net from 'node:net';

export type Dropping = 'nothing' | 'replies' | 'everything';

export interface CuttingProxy {
  url: string;
  port: number;
  /** Destroys every open connection (both sides). */
  cut(): number;
  /** From now on drops the bytes named (until called again with 'nothing'). */
  drop(what: Dropping): void;
  close(): Promise<void>;
}

export async function cuttingProxy(targetPort: number): Promise<CuttingProxy> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  let dropping: Dropping = 'nothing';
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    client.on('data', (d) => dropping === 'everything' || upstream.write(d));
    upstream.on('data', (d) => dropping !== 'nothing' || client.write(d));
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
  const cut = () => {
    const n = pairs.size;
    for (const [a, b] of [...pairs]) {
      a.destroy();
      b.destroy();
    }
    pairs.clear();
    return n;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    cut,
    drop: (what) => (dropping = what),
    close: () => {
      cut();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
