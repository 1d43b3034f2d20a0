import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ResultPromise } from 'execa';
import pg from 'pg';
import { scratchDir } from '../../helpers/cli.js';
import type { ScratchDatabase } from './server.js';

/** The phase in which a project's run pauses (a long statement), or the lock wait. */
export type Pause = 'lock' | 'migration' | 'seed' | 'verify';

/** preflight's advisory-lock key for the flat layout. */
export const LOCK_KEY = '1886545254';

/** Marker in the text of the statement that pauses, found in pg_stat_activity. */
export const marker = (pause: Pause): string => `slow_${pause}`;

/**
 * A small project whose run pauses `seconds` in the given phase: in the middle of migration
 * 0002_slow.sql (between its two tables), of the seed transaction (between its two rows), or
 * of an assertion. Returns the project directory (`migrations/`, `seeds/`, the expected schema).
 */
export function pausingProject(pause: Pause | undefined, seconds: number): string {
  const dir = scratchDir();
  const migrations = path.join(dir, 'migrations');
  const seeds = path.join(dir, 'seeds');
  mkdirSync(migrations);
  mkdirSync(seeds);
  const sleep = (p: Pause): string =>
    pause === p ? `SELECT pg_sleep(${seconds}) AS ${marker(p)};\n` : '';
  writeFileSync(
    path.join(migrations, '0001_base.sql'),
    'CREATE TABLE marks (id int PRIMARY KEY, note text);\n',
  );
  writeFileSync(
    path.join(migrations, '0002_slow.sql'),
    `CREATE TABLE slow_a (id int);\n${sleep('migration')}CREATE TABLE slow_b (id int);\n`,
  );
  writeFileSync(
    path.join(seeds, '001_marks.sql'),
    `INSERT INTO marks VALUES (1, 'first') ON CONFLICT DO NOTHING;\n${sleep('seed')}INSERT INTO marks VALUES (2, 'second') ON CONFLICT DO NOTHING;\n`,
  );
  const expected = {
    version: 1,
    tables: {
      'public.marks': { columns: { id: { type: 'integer', nullable: false } } },
      'public.slow_a': {},
      'public.slow_b': {},
    },
    assertions: [
      { name: 'both seed rows exist', sql: 'select count(*) = 2 from marks' },
      ...(pause === 'verify'
        ? [
            {
              name: 'a slow check',
              sql: `select true as ${marker('verify')} from pg_sleep(${seconds})`,
            },
          ]
        : []),
    ],
  };
  writeFileSync(
    path.join(migrations, 'expected-schema.json'),
    `${JSON.stringify(expected, null, 2)}\n`,
  );
  return dir;
}

/** Waits until a session on the database runs a statement holding `text` (or throws after `ms`). */
export async function waitForStatement(
  db: ScratchDatabase,
  text: string,
  ms = 20_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const rows = await db.query(
      "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()",
      [text],
    );
    if (rows.length > 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no session ran a statement with ${JSON.stringify(text)} within ${ms}ms`);
}

/** Holds preflight's advisory lock from another session, as a stuck deploy would. */
export async function holdLock(url: string): Promise<pg.Client> {
  const holder = new pg.Client({ connectionString: url, application_name: 'other-deploy' });
  holder.on('error', () => undefined);
  await holder.connect();
  await holder.query(`SELECT pg_advisory_lock(${LOCK_KEY})`);
  return holder;
}

/**
 * Waits until a started preflight reached `pause`: waiting for the lock (its `lock.wait` log
 * line), or running the pausing project's long statement of that phase.
 */
export async function waitForPause(
  cli: ResultPromise,
  db: ScratchDatabase,
  pause: Pause,
): Promise<void> {
  if (pause !== 'lock') return waitForStatement(db, marker(pause));
  return lockWaitLogged(cli);
}

/** Resolves once a started preflight logs that it waits for the lock (its `lock.wait` line). */
export function lockWaitLogged(cli: ResultPromise): Promise<void> {
  return new Promise<void>((resolve) =>
    cli.stdout?.on('data', (chunk: Buffer) => chunk.includes('"event":"lock.wait"') && resolve()),
  );
}

/** What a pausing project left in the database: finished history rows, tables, seed rows, advisory locks. */
export async function projectState(
  db: ScratchDatabase,
): Promise<{ history: string[]; tables: string[]; marks: number; locks: number }> {
  const [row] = await db.query<{ tables: string[] | null; locks: number }>(
    `SELECT (SELECT array_agg(relname::text ORDER BY relname) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r') AS tables,
            (SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) AS locks`,
  );
  const tables = row?.tables ?? [];
  const history = tables.includes('preflight_migrations')
    ? (
        await db.query<{ name: string }>(
          'SELECT name FROM preflight_migrations WHERE finished_at IS NOT NULL ORDER BY version',
        )
      ).map((r) => r.name)
    : [];
  const marks = tables.includes('marks')
    ? ((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM marks'))[0]?.n ?? 0)
    : 0;
  return { history, tables, marks, locks: row?.locks ?? 0 };
}
