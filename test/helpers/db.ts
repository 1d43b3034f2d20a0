import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { knownServerVersion, rememberServerVersion } from '../../src/connection/server-version.js';

/** The server every integration test uses (set by the global setup when not given). */
export function adminUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set: the jest global setup sets it');
  return url;
}

/** URL of another database on the same server. */
export function urlFor(database: string, base = adminUrl()): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Runs `sql` (one or more statements) on a new connection to `url`, then closes it. */
export async function runSql(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * A client connected to `url` that knows the server's version, as preflight's session does when
 * it opens (the catalog queries read it from there).
 */
export async function connectAsSession(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ v: string }>(
    "SELECT current_setting('server_version_num') AS v",
  );
  rememberServerVersion(client, Number(rows[0]?.v));
  return client;
}

/** A fresh, empty database; `drop()` removes it (terminating leftover sessions). */
export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
  ): Promise<T[]>;
  drop(): Promise<void>;
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>, base = adminUrl()): Promise<T> {
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates a fresh database named after the test, on the test server. */
export async function createTestDatabase(prefix = 'pf'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await withAdmin((c) => c.query(`CREATE DATABASE "${name}"`));
  const url = urlFor(name);
  return {
    name,
    url,
    async query(sql, params) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const result = await client.query(sql, params);
        return result.rows;
      } finally {
        await client.end();
      }
    },
    async drop() {
      await withAdmin(async (c) => {
        await c.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [name],
        );
        await c.query(`DROP DATABASE IF EXISTS "${name}"`);
      });
    },
  };
}

/** A client on `db` as connectAsSession opens it, and the server's `server_version_num`. */
export async function connectWithVersion(
  db: TestDatabase,
): Promise<{ client: pg.Client; version: number }> {
  const client = await connectAsSession(db.url);
  return { client, version: knownServerVersion(client) ?? 0 };
}
