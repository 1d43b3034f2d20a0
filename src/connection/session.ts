import pg from 'pg';
import type { ConnectionSettings } from '../config/database-url.js';
import { clientOptions } from './connect.js';

/** The one connection that does all the work, with what is needed to cancel its running statement. */
export interface Session {
  readonly client: pg.Client;
  readonly settings: ConnectionSettings;
  /** The server process id of this connection, read once at the start. */
  readonly pid: number;
}

/**
 * Reads the backend pid and applies the session settings in one round trip: statement_timeout,
 * and lock_timeout so that no statement of preflight ever queues behind production traffic.
 */
export async function openSession(
  client: pg.Client,
  settings: ConnectionSettings,
  statementTimeoutMs: number | undefined,
  lockTimeoutMs: number,
): Promise<Session> {
  const result = await client.query<{ pid: number }>(
    "SELECT pg_backend_pid() AS pid, set_config('statement_timeout', $1, false), set_config('lock_timeout', $2, false)",
    [String(statementTimeoutMs ?? 0), String(lockTimeoutMs)],
  );
  return { client, settings, pid: result.rows[0]?.pid ?? 0 };
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

/** Closes the client; ending the connection also releases any session advisory lock. */
export async function closeClient(client: pg.Client): Promise<void> {
  await Promise.race([
    client.end().catch(() => undefined),
    new Promise((r) => setTimeout(r, 2000).unref()),
  ]);
}
