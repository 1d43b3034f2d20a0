import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { urlFor } from '../../helpers/db.js';

/**
 * The server the reliability suite runs on: the password-checking server of the global setup
 * (the major chosen by TEST_PG_MAJOR), so that every CLI invocation carries a password.
 */
export function serverUrl(): string {
  const url = process.env.TEST_PASSWORD_DATABASE_URL;
  if (!url) throw new Error('TEST_PASSWORD_DATABASE_URL is not set: the jest global setup sets it');
  return url;
}

/** The password of that server (searched for in every output). */
export function serverPassword(): string {
  return decodeURIComponent(new URL(serverUrl()).password);
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'reliability-test' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The server's version: `16.4`, major 16. */
export async function serverVersion(
  url = serverUrl(),
): Promise<{ major: number; version: string }> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ v: string; n: string }>(
      "SELECT current_setting('server_version') AS v, current_setting('server_version_num') AS n",
    );
    return { version: rows[0]?.v ?? '?', major: Math.floor(Number(rows[0]?.n) / 10000) };
  });
}

/** A database of its own for a test file, with the checks the trials need. */
export interface ScratchDatabase {
  readonly name: string;
  readonly url: string;
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
  ): Promise<T[]>;
  /** Waits until no preflight session is left on the database (ending them after `ms`); returns how many had to be ended. */
  settle(ms?: number): Promise<number>;
  /** Back to empty: the public schema dropped and recreated. */
  reset(): Promise<void>;
  drop(): Promise<void>;
}

/** Creates a fresh database on the reliability server. */
export async function createDatabase(prefix: string): Promise<ScratchDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await withClient(serverUrl(), (c) => c.query(`CREATE DATABASE "${name}"`));
  const url = urlFor(name, serverUrl());
  let client: pg.Client | undefined;
  const session = async (): Promise<pg.Client> => {
    if (!client) {
      client = new pg.Client({ connectionString: url, application_name: 'reliability-test' });
      client.on('error', () => undefined);
      await client.connect();
    }
    return client;
  };
  const db: ScratchDatabase = {
    name,
    url,
    async query(sql, params) {
      return (await (await session()).query(sql, params)).rows;
    },
    async settle(ms = 10_000) {
      const others =
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'preflight'";
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        if ((await db.query(others)).length === 0) return 0;
        await new Promise((r) => setTimeout(r, 25));
      }
      const ended = await db.query(`SELECT pg_terminate_backend(pid) FROM (${others}) o`);
      return ended.length;
    },
    async reset() {
      await db.settle();
      await db.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    },
    async drop() {
      await client?.end().catch(() => undefined);
      client = undefined;
      await withClient(serverUrl(), async (c) => {
        await c.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [name],
        );
        await c.query(`DROP DATABASE IF EXISTS "${name}"`);
      });
    },
  };
  return db;
}

/** Advisory locks granted on a database right now (preflight's key and Prisma's). */
export async function advisoryLocksHeld(db: ScratchDatabase): Promise<number> {
  const rows = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
  );
  return rows[0]?.n ?? 0;
}
