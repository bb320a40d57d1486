/**
 * A TCP proxy on 127.0.0.1 port 0 for fault tests: put it between a node and a
 * service (PostgreSQL) and cut the path without touching the service, which
 * other test files share.
 *
 *   const proxy = await startTcpProxy({ host: '127.0.0.1', port: 5432 });
 *   proxy.cut();      // destroy every proxied connection; new ones are closed at once
 *   proxy.restore();  // accept and forward again
 *   proxy.freeze();   // a hung service: nothing forwarded, nothing closed
 *   await proxy.close();
 */
import net from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Connections accepted and forwarded so far. */
  readonly forwarded: number;
  /** Connections refused while cut. */
  readonly refused: number;
  /** Live proxied connections. */
  readonly open: number;
  /** Destroys every proxied connection (both sides) and refuses new ones until restore(). */
  cut(): void;
  /**
   * A hung service: stops forwarding in both directions and holds every connection
   * open (no data, no FIN, no reset) until cut() or close(); new connections are held too.
   */
  freeze(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  let isCut = false;
  let frozen = false;
  const hold = (client: net.Socket, upstream?: net.Socket): void => {
    client.unpipe();
    client.pause();
    upstream?.unpipe();
    upstream?.pause();
  };
  let forwarded = 0;
  let refused = 0;
  // allowHalfOpen: a FIN from one side is forwarded by the pipe (or held when frozen), not answered by the proxy.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    client.on('error', () => undefined);
    if (frozen) {
      pairs.add([client, client]);
      hold(client);
      return;
    }
    if (isCut) {
      refused++;
      client.destroy();
      return;
    }
    forwarded++;
    const upstream = net.connect({ ...target, allowHalfOpen: true });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    const drop = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  const destroyAll = (): void => {
    for (const [a, b] of [...pairs]) {
      a.destroy();
      b.destroy();
    }
    pairs.clear();
  };
  return {
    port,
    get forwarded() {
      return forwarded;
    },
    get refused() {
      return refused;
    },
    get open() {
      return pairs.size;
    },
    cut() {
      isCut = true;
      frozen = false;
      destroyAll();
    },
    freeze() {
      frozen = true;
      for (const [a, b] of pairs) hold(a, b);
    },
    restore() {
      isCut = false;
    },
    close() {
      isCut = true;
      frozen = false;
      destroyAll();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
