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
  /** Every ErrorResponse the server sent so far, connection by connection, in order. */
  serverErrors(): ServerError[];
  close(): Promise<void>;
}

/** An ErrorResponse as the server sent it: its SQLSTATE and message. */
export interface ServerError {
  readonly code: string;
  readonly message: string;
}

/** Starts a proxy on 127.0.0.1 (a free port) in front of `target`. */
export async function startProxy(target: { host: string; port: number }): Promise<CuttingProxy> {
  const sockets = new Set<Socket>();
  // What each connection's server sent, for serverErrors.
  const received: Buffer[][] = [];
  const stats = { connections: 0, bytes: 0, cutAt: undefined as number | undefined };
  let cutting = false;
  const server: Server = createServer((client) => {
    if (cutting) {
      client.destroy();
      return;
    }
    stats.connections++;
    const upstream = createConnection({ host: target.host, port: target.port });
    const fromServer: Buffer[] = [];
    received.push(fromServer);
    upstream.on('data', (chunk: Buffer) => fromServer.push(chunk));
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
    serverErrors: () => received.flatMap((chunks) => errorResponses(Buffer.concat(chunks))),
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

/**
 * The ErrorResponses in what a server sent on one connection (its messages from the first byte:
 * the clients here ask for no TLS): each message is a type byte, a 4-byte length and its body; an
 * ErrorResponse's body is fields of a type byte and a NUL-terminated text, ended by a NUL.
 */
function errorResponses(stream: Buffer): ServerError[] {
  const errors: ServerError[] = [];
  for (let at = 0; at + 5 <= stream.length;) {
    const end = at + 1 + stream.readUInt32BE(at + 1);
    if (end > stream.length) break; // cut off mid-message
    if (stream[at] === 0x45 /* E */) {
      const fields = new Map<string, string>();
      for (let field = at + 5; field < end && stream[field] !== 0;) {
        const stop = stream.indexOf(0, field + 1);
        fields.set(
          String.fromCharCode(stream[field] ?? 0),
          stream.toString('utf8', field + 1, stop),
        );
        field = stop + 1;
      }
      errors.push({ code: fields.get('C') ?? '', message: fields.get('M') ?? '' });
    }
    at = end;
  }
  return errors;
}

/** Starts a proxy in front of the server that `url` points to. */
export function proxyTo(url: string): Promise<CuttingProxy> {
  const target = new URL(url);
  return startProxy({ host: target.hostname, port: Number(target.port) });
}
