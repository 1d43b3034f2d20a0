import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ScratchDatabase } from './server.js';

/** A generated migration history whose every migration leaves objects that tell whether it ran. */
export interface GeneratedHistory {
  readonly dir: string;
  readonly migrations: string;
  readonly seeds: string;
  readonly count: number;
}

const pad = (i: number): string => String(i).padStart(4, '0');
const table = (i: number): string => `t_${pad(i)}`;
/** Migration i also adds a column to the table of migration i - 1 (a change across two tables). */
const altersPrevious = (i: number): boolean => i > 1 && i % 3 === 0;
/** Migration i also creates an index. */
const indexed = (i: number): boolean => i % 2 === 0;
/** Migration i carries its own BEGIN ... COMMIT (run as written, recorded inside its block). */
const ownTransaction = (i: number): boolean => i % 7 === 0;

function migrationSql(i: number): string {
  const t = table(i);
  const body = [
    `CREATE TABLE ${t} (id int PRIMARY KEY, note text NOT NULL DEFAULT 'migration ${i}');`,
    `INSERT INTO ${t} (id) VALUES (1), (2), (3);`,
    ...(indexed(i) ? [`CREATE INDEX ${t}_note ON ${t} (note);`] : []),
    ...(altersPrevious(i) ? [`ALTER TABLE ${table(i - 1)} ADD COLUMN c_${pad(i)} int;`] : []),
    // A short pause widens the window in which the migration's transaction is open.
    ...(i % 10 === 0 ? ['SELECT pg_sleep(0.02);'] : []),
  ];
  return `-- generated migration ${i}\n${(ownTransaction(i) ? ['BEGIN;', ...body, 'COMMIT;'] : body).join('\n')}\n`;
}

/**
 * Writes `count` flat migrations and two seeds (a SQL seed and a declarative one, applied in one
 * transaction) into `dir`.
 */
export function generateHistory(dir: string, count: number): GeneratedHistory {
  const migrations = path.join(dir, 'migrations');
  const seeds = path.join(dir, 'seeds');
  mkdirSync(migrations, { recursive: true });
  mkdirSync(seeds, { recursive: true });
  for (let i = 1; i <= count; i++) {
    writeFileSync(path.join(migrations, `${pad(i)}_create_${table(i)}.sql`), migrationSql(i));
  }
  writeFileSync(
    path.join(seeds, '001_marks.sql'),
    `INSERT INTO ${table(1)} (id, note) VALUES (101, 'seed'), (102, 'seed'), (103, 'seed') ON CONFLICT (id) DO NOTHING;\n`,
  );
  writeFileSync(
    path.join(seeds, '002_rows.json'),
    `${JSON.stringify({ table: table(2), key: ['id'], mode: 'upsert', rows: [{ id: 201, note: 'json seed' }] }, null, 2)}\n`,
  );
  return { dir, migrations, seeds, count };
}

/** What the database holds of a generated history. */
export interface HistoryState {
  /** Migrations recorded as finished in the history. */
  readonly recorded: number;
  /** Migrations whose effects are all present. */
  readonly present: number;
  /** Seeds: none applied, all applied, or (a bug) part of them. */
  readonly seeds: 'none' | 'all' | 'partial';
  /** Every inconsistency: history without effects, effects without history, half-applied. */
  readonly problems: string[];
}

/** Reads the catalog, the rows and the history, and compares them migration by migration. */
export async function inspectHistory(db: ScratchDatabase, count: number): Promise<HistoryState> {
  const [catalog] = await db.query<{
    tables: string[] | null;
    indexes: string[] | null;
    columns: string[] | null;
  }>(
    `SELECT (SELECT array_agg(relname::text) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r') AS tables,
            (SELECT array_agg(indexname::text) FROM pg_indexes WHERE schemaname = 'public') AS indexes,
            (SELECT array_agg(table_name || '.' || column_name) FROM information_schema.columns WHERE table_schema = 'public') AS columns`,
  );
  const tables = new Set(catalog?.tables ?? []);
  const indexes = new Set(catalog?.indexes ?? []);
  const columns = new Set(catalog?.columns ?? []);
  const existing = Array.from({ length: count }, (_, k) => table(k + 1)).filter((t) =>
    tables.has(t),
  );
  const rows = new Map<string, { migration: number; seed: number }>();
  if (existing.length > 0) {
    const counts = await db.query<{ t: string; migration: number; seed: number }>(
      existing
        .map(
          (t) =>
            `SELECT '${t}' AS t, count(*) FILTER (WHERE id < 100)::int AS migration, count(*) FILTER (WHERE id > 100)::int AS seed FROM ${t}`,
        )
        .join(' UNION ALL '),
    );
    for (const c of counts) rows.set(c.t, c);
  }
  const history = new Map<number, boolean>();
  if (tables.has('preflight_migrations')) {
    for (const r of await db.query<{ version: string; finished: boolean }>(
      'SELECT version, finished_at IS NOT NULL AS finished FROM preflight_migrations',
    ))
      history.set(Number(r.version), r.finished);
  }
  const problems: string[] = [];
  let recorded = 0;
  let present = 0;
  for (let i = 1; i <= count; i++) {
    const t = table(i);
    const parts = [
      tables.has(t),
      ...(indexed(i) ? [indexes.has(`${t}_note`)] : []),
      rows.get(t)?.migration === 3,
      ...(altersPrevious(i) ? [columns.has(`${table(i - 1)}.c_${pad(i)}`)] : []),
    ];
    const complete = parts.every(Boolean);
    const absent = parts.every((p) => !p);
    const inHistory = history.get(i);
    if (inHistory === false) problems.push(`migration ${i} is recorded as started or failed`);
    if (inHistory) recorded++;
    if (complete) present++;
    if (!complete && !absent) problems.push(`migration ${i} is half-applied (${parts.join(',')})`);
    else if (inHistory && absent)
      problems.push(`migration ${i} is in the history but its effects are absent`);
    else if (!inHistory && complete)
      problems.push(`migration ${i} took effect but is not in the history`);
  }
  const seedRows = (rows.get(table(1))?.seed ?? 0) + (rows.get(table(2))?.seed ?? 0);
  const seeds = seedRows === 0 ? 'none' : seedRows === 4 ? 'all' : 'partial';
  if (seeds === 'partial') problems.push(`the seeds are half-applied (${seedRows} of 4 rows)`);
  return { recorded, present, seeds, problems };
}
