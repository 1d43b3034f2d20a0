import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ResultPromise } from 'execa';
import type pg from 'pg';
import { runCli, scratchDir, startCli, type CliResult } from './cli.js';
import { createTestDatabase, type TestDatabase } from './db.js';

/**
 * The engine tests' project: for each test, a fresh database and a scratch directory with an
 * empty `migrations/`, on which `preflight migrate` runs.
 */
export interface EngineProject {
  /** The current test's database. */
  readonly db: TestDatabase;
  /** A query on the current test's database. */
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
  ): Promise<T[]>;
  /** Writes (or rewrites) `migrations/<name>`. */
  migration(name: string, sql: string): void;
  /** Starts `preflight migrate` on the project with `flags`, without waiting. */
  startMigrate(...flags: string[]): ResultPromise;
  /** Runs `preflight migrate` on the project with `flags` to completion. */
  migrate(...flags: string[]): Promise<CliResult>;
  /** Resolves once a session of the database runs a statement containing `text`. */
  waitForQuery(text: string, timeoutMs?: number): Promise<void>;
  /** Sessions of the database still running a statement, other than the asking one. */
  activeQueries(): Promise<string[]>;
  /** Advisory locks on the database, granted or awaited. */
  advisoryLocks(): Promise<number>;
}

/** Creates the project before each test of the file (`prefix` names the database) and drops it after. */
export function useEngineProject(prefix: string): EngineProject {
  let db: TestDatabase;
  let dir: string;
  beforeEach(async () => {
    db = await createTestDatabase(prefix);
    dir = scratchDir();
    mkdirSync(path.join(dir, 'migrations'));
  });
  afterEach(async () => {
    await db.drop();
  });

  const args = (flags: string[]): string[] => [
    'migrate',
    '--migrations',
    path.join(dir, 'migrations'),
    ...flags,
  ];
  const options = (): { env: Record<string, string>; cwd: string } => ({
    env: { DATABASE_URL: db.url },
    cwd: dir,
  });

  return {
    get db() {
      return db;
    },
    query<T extends pg.QueryResultRow>(sql: string, params?: unknown[]) {
      return db.query<T>(sql, params);
    },
    migration(name, sql) {
      writeFileSync(path.join(dir, 'migrations', name), sql);
    },
    startMigrate: (...flags) => startCli(args(flags), options()),
    migrate: (...flags) => runCli(args(flags), options()),
    async waitForQuery(text, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        const rows = await db.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()`,
          [`%${text}%`],
        );
        if (rows.length > 0) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`no session ran ${text} within ${timeoutMs}ms`);
    },
    async activeQueries() {
      const rows = await db.query<{ query: string }>(
        `SELECT query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'`,
      );
      return rows.map((r) => r.query);
    },
    async advisoryLocks() {
      const rows = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
      );
      return rows[0]?.n ?? -1;
    },
  };
}
