import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** How a cut looks to both ends: a FIN (orderly close) or an RST (reset). */
export type CutMode = 'fin' | 'rst';

/** A TCP proxy between preflight and Postgres that can cut every connection at once. */
export interface CuttingProxy {
  readonly port: number;
  /** `url` with host and port replaced by the proxy's. */
  via(url: string): string;
  /** Cuts every open connection now and refuses new ones (the listener closes). */
  cut(mode: CutMode): void;
  /** Connections accepted and bytes relayed so far. */
  readonly stats: { connections: number; bytes: number; cutAt: number | undefined };
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 (a free port) in front of `target`. */
export async function startProxy(target: { host: string; port: number }): Promise<CuttingProxy> {
  const sockets = new Set<Socket>();
  const stats = { connections: 0, bytes: 0, cutAt: undefined as number | undefined };
  let cutting = false;
  const server: Server = createServer((client) => {
    if (cutting) {
      client.destroy();
      return;
    }
    stats.connections++;
    const upstream = createConnection({ host: target.host, port: target.port });
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(from);
      from.on('data', (chunk: Buffer) => {
        stats.bytes += chunk.length;
        if (!to.destroyed) to.write(chunk);
      });
      from.on('end', () => to.end());
      from.on('error', () => to.destroy());
      from.on('close', () => {
        sockets.delete(from);
        to.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    stats,
    via(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    cut(mode) {
      cutting = true;
      stats.cutAt = Date.now();
      server.close();
      for (const socket of sockets) {
        if (mode === 'rst') socket.resetAndDestroy();
        else socket.destroy();
      }
    },
    async close() {
      cutting = true;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Starts a proxy in front of the server that `url` points to. */
export function proxyTo(url: string): Promise<CuttingProxy> {
  const target = new URL(url);
  return startProxy({ host: target.hostname, port: Number(target.port) });
}
