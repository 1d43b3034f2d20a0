import pg from 'pg';
import type { ConnectionSettings } from '../config/database-url.js';
import { clientOptions } from '../connection/connect.js';

/** A session holding locks that a migration waited for. */
export interface Blocker {
  readonly pid: number;
  readonly applicationName: string;
  readonly state: string | null;
  readonly query: string | null;
}

interface BlockerRow {
  pid: number;
  application_name: string;
  state: string | null;
  query: string | null;
}

function toBlocker(row: BlockerRow): Blocker {
  return {
    pid: row.pid,
    applicationName: row.application_name,
    state: row.state,
    query: row.query,
  };
}

/**
 * Lists other sessions of this database that hold granted locks on user tables: the fallback
 * when the sessions blocking a migration could not be seen while it waited.
 */
export async function findBlockers(client: pg.ClientBase): Promise<Blocker[]> {
  const result = await client.query<BlockerRow>(
    `SELECT DISTINCT a.pid, a.application_name, a.state, left(a.query, 200) AS query
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_backend_pid()
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.relation >= 16384
      ORDER BY a.pid LIMIT 5`,
  );
  return result.rows.map(toBlocker);
}

/** Watches, from a second connection, which sessions block one backend. */
export interface BlockerWatch {
  /** Stops watching; resolves to the blockers seen last (empty when none was seen). */
  stop(): Promise<Blocker[]>;
}

/**
 * Polls `pg_blocking_pids(pid)` every `everyMs` from a short-lived second connection, while the
 * session may be waiting for a table lock, so that a lock_timeout names the real blocker.
 * Best effort: a failure to connect or query only means nothing is seen.
 */
export function watchBlockers(
  settings: ConnectionSettings,
  pid: number,
  everyMs: number,
): BlockerWatch {
  let last: Blocker[] = [];
  let stopped = false;
  let wake: () => void = () => undefined;
  const side = new pg.Client(clientOptions(settings, 3000));
  side.on('error', () => undefined);
  const loop = (async (): Promise<void> => {
    try {
      await side.connect();
      while (!stopped) {
        const result = await side.query<BlockerRow>(
          `SELECT a.pid, a.application_name, a.state, left(a.query, 200) AS query
             FROM pg_stat_activity a WHERE a.pid = ANY (pg_blocking_pids($1)) ORDER BY a.pid LIMIT 5`,
          [pid],
        );
        if (result.rows.length > 0) last = result.rows.map(toBlocker);
        if (stopped) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, everyMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } catch {
      // Best effort: the message then falls back to the sessions holding table locks.
    } finally {
      await side.end().catch(() => undefined);
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake();
      // A query in flight may still tell the blocker; a connection still opening cannot.
      await Promise.race([loop, new Promise((resolve) => setTimeout(resolve, 500).unref())]);
      return last;
    },
  };
}

/** `pid 123 (psql, idle in transaction): LOCK TABLE users` for each blocker. */
export function describeBlockers(blockers: readonly Blocker[]): string {
  if (blockers.length === 0) return 'a session that has gone since';
  return blockers
    .map(
      (b) =>
        `pid ${b.pid} (${b.applicationName || 'no application name'}, ${b.state ?? 'unknown state'}): ${(b.query ?? '').replace(/\s+/g, ' ').trim()}`,
    )
    .join('; ');
}
