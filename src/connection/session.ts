import pg from 'pg';
import type { ConnectionSettings } from '../config/database-url.js';
import { clientOptions } from './connect.js';
import { rememberServerVersion } from './server-version.js';

/** The one connection that does all the work, with what is needed to cancel its running statement. */
export interface Session {
  readonly client: pg.Client;
  readonly settings: ConnectionSettings;
  /** The server process id of this connection, read once at the start. */
  readonly pid: number;
  /**
   * Whether the server's own end of this connection is the address and port preflight connected
   * to: nothing (no pooler) stands between them. See isDirect.
   */
  readonly direct: boolean;
  /** Whether the session holds preflight's advisory lock (set by acquireLock and releaseLock). */
  lockHeld: boolean;
}

interface SessionRow {
  pid: number;
  addr: string | null;
  port: number | null;
  version: string;
}

/**
 * Reads the backend pid, the server's end of the connection and its version, and applies the
 * session settings, in one round trip: statement_timeout, and lock_timeout so that no statement
 * of preflight ever queues behind production traffic. `onSent` runs once that statement is sent,
 * before its answer.
 */
export async function openSession(
  client: pg.Client,
  settings: ConnectionSettings,
  statementTimeoutMs: number | undefined,
  lockTimeoutMs: number,
  onSent?: () => void,
): Promise<Session> {
  const sent = client.query<SessionRow>(
    "SELECT pg_backend_pid() AS pid, host(inet_server_addr()) AS addr, inet_server_port() AS port, current_setting('server_version_num') AS version, set_config('statement_timeout', $1, false), set_config('lock_timeout', $2, false)",
    [String(statementTimeoutMs ?? 0), String(lockTimeoutMs)],
  );
  // On a pipelined client, what onSent sends goes out behind the settings, in the same burst.
  onSent?.();
  const result = await sent;
  const row = result.rows[0];
  if (row) rememberServerVersion(client, Number(row.version));
  return {
    client,
    settings,
    pid: row?.pid ?? 0,
    direct: row !== undefined && isDirect(peerOf(client), row),
    lockHeld: false,
  };
}

/** The address and port the client's socket is connected to (undefined before it connects). */
function peerOf(client: pg.Client): { address?: string; port?: number } {
  const socket = client.connection.stream as { remoteAddress?: string; remotePort?: number };
  return { address: socket.remoteAddress, port: socket.remotePort };
}

/**
 * Whether the server accepted this very TCP connection: its local address and port (as the
 * server reports them) are those the client connected to. A pooler or proxy in between opens its
 * own connection to the server, whose local end is the server's address, not the pooler's: the
 * two cannot match unless both listen on one address and port, which one host does not allow.
 * A Unix socket (no address on either side) is never taken as direct.
 */
export function isDirect(
  peer: { address?: string; port?: number },
  server: { addr: string | null; port: number | null },
): boolean {
  if (!peer.address || peer.port === undefined || server.addr === null || server.port === null)
    return false;
  const plain = (address: string): string => address.toLowerCase().replace(/^::ffff:(?=\d)/, '');
  return plain(peer.address) === plain(server.addr) && peer.port === server.port;
}

/** Whether queries made together on `client` go out together (pg's pipeline mode, see connect). */
export function isPipelined(client: pg.ClientBase): boolean {
  return (client as { pipeline?: unknown }).pipeline === true;
}

/**
 * Cancels the statement the session is running, from a second short-lived connection
 * (the protocol's cancel request is not exposed by node-postgres).
 */
export async function cancelRunningStatement(session: Session): Promise<void> {
  const side = new pg.Client(clientOptions(session.settings, 3000));
  side.on('error', () => undefined);
  try {
    await side.connect();
    await side.query('SELECT pg_cancel_backend($1)', [session.pid]);
  } catch {
    // Best effort: closing the main connection below also ends the statement on the server.
  } finally {
    await side.end().catch(() => undefined);
  }
}

/**
 * Runs `fn` inside BEGIN/COMMIT; rolls back when it throws (the rollback error, if any, is
 * swallowed so the original error surfaces).
 */
export async function withTransaction<T>(client: pg.ClientBase, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await fn();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Closes the client; ending the connection also releases any session advisory lock. With
 * `linger: false` it sends the goodbye and returns at once, and the process may exit before the
 * server has closed its end: for a session that holds nothing the server must release first.
 */
export async function closeClient(
  client: pg.Client,
  { linger = true }: { linger?: boolean } = {},
): Promise<void> {
  const ending = client.end().catch(() => undefined);
  if (!linger) {
    client.connection.stream.once('error', () => undefined);
    (client.connection.stream as { unref?: () => void }).unref?.();
    return;
  }
  await Promise.race([ending, new Promise((r) => setTimeout(r, 2000).unref())]);
}
