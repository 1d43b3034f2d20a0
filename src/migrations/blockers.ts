import type pg from 'pg';

/** A session holding locks that a migration waited for. */
export interface Blocker {
  readonly pid: number;
  readonly applicationName: string;
  readonly state: string | null;
  readonly query: string | null;
}

/**
 * Lists other sessions of this database that hold granted locks on user tables: after a
 * migration gave up on lock_timeout, these are the ones it was waiting for.
 */
export async function findBlockers(client: pg.ClientBase): Promise<Blocker[]> {
  const result = await client.query<{ pid: number; application_name: string; state: string | null; query: string | null }>(
    `SELECT DISTINCT a.pid, a.application_name, a.state, left(a.query, 200) AS query
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_backend_pid()
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.relation >= 16384
      ORDER BY a.pid LIMIT 5`,
  );
  return result.rows.map((r) => ({ pid: r.pid, applicationName: r.application_name, state: r.state, query: r.query }));
}

/** `pid 123 (psql, idle in transaction): LOCK TABLE users` for each blocker. */
export function describeBlockers(blockers: readonly Blocker[]): string {
  if (blockers.length === 0) return 'the blocking session has gone';
  return blockers
    .map((b) => `pid ${b.pid} (${b.applicationName || 'no application name'}, ${b.state ?? 'unknown'}): ${(b.query ?? '').replace(/\s+/g, ' ')}`)
    .join('; ');
}
