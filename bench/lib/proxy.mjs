// A tiny TCP proxy in front of Postgres that counts what clients send, to count round trips
// without changing the product: every simple Query ('Q') and every Sync ('S', the end of an
// extended-protocol query) waits for one ReadyForQuery from the server, so Q + S is the number
// of query round trips (an upper bound for a pipelined client, which sends several before the
// first answer); connections are counted apart (each one pays startup and auth).
import { createConnection, createServer } from 'node:net';

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;

/** Starts the proxy towards host:port; resolves { port, counts(), reset(), close() }. */
export async function startCountingProxy(host, port) {
  let tally = emptyTally();
  const sockets = new Set();
  const server = createServer((client) => {
    const upstream = createConnection({ host, port });
    sockets.add(client);
    sockets.add(upstream);
    const parser = messageCounter((event) => count(tally, event));
    // No Nagle here: a pipelined client's small writes would wait for delayed ACKs (40 ms).
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('data', (chunk) => {
      parser(chunk);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', close);
    upstream.on('close', close);
    client.on('error', close);
    upstream.on('error', close);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    counts: () => ({ ...tally }),
    reset: () => {
      tally = emptyTally();
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(resolve);
      }),
  };
}

function emptyTally() {
  return { connections: 0, cancels: 0, queries: 0, simple: 0, extended: 0 };
}

function count(tally, event) {
  if (event === 'startup') tally.connections++;
  else if (event === 'cancel') tally.cancels++;
  else if (event === 'Q') {
    tally.queries++;
    tally.simple++;
  } else if (event === 'S') {
    tally.queries++;
    tally.extended++;
  }
}

/** A parser of the client's side of one connection; calls `onEvent` per startup/cancel/Q/S. */
function messageCounter(onEvent) {
  let buffer = Buffer.alloc(0);
  let startup = true;
  return (chunk) => {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
    for (;;) {
      if (startup) {
        if (buffer.length < 8) return;
        const length = buffer.readInt32BE(0);
        if (buffer.length < length) return;
        const code = buffer.readInt32BE(4);
        if (code === CANCEL_REQUEST) onEvent('cancel');
        else if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) {
          onEvent('startup');
          startup = false;
        }
        buffer = buffer.subarray(length);
        continue;
      }
      if (buffer.length < 5) return;
      const length = buffer.readInt32BE(1);
      if (buffer.length < length + 1) return;
      onEvent(String.fromCharCode(buffer[0]));
      buffer = buffer.subarray(length + 1);
    }
  };
}
