import type pg from 'pg';
import { redactSecret } from '../config/database-url.js';
import { ExitCode, PreflightError, SeedError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { splitStatements } from '../migrations/lexer.js';
import { formatSqlError, isPgError, type PgErrorFields } from '../migrations/sql-error.js';
import type { SeedFileResult } from '../report/run-report.js';
import { checkSeedTarget, readSeedCatalog, tableKey, type SeedCatalog } from './catalog.js';
import { seedLabel } from './source.js';
import { buildUpsert, failingParam, groupRows, type SeedStatement } from './sql-builder.js';
import type { RowsSeedFile, SeedFile, SqlSeedFile } from './types.js';
import { describeKey } from './validate.js';

export interface ApplySeedsOptions {
  readonly logger?: Logger;
  /** The database password, scrubbed from every error message. */
  readonly password?: string;
}

interface Counts {
  inserted: number;
  updated: number;
}

const BOM = '\uFEFF';
const ROLLED_BACK = 'The seed transaction was rolled back: nothing of the seeds was written.';

const isRows = (seed: SeedFile): seed is RowsSeedFile => seed.kind === 'rows';

/**
 * Reads the catalog for the declarative seeds in one query, and throws one SeedError listing
 * every problem: a missing table or column, a key without a usable unique index.
 */
async function checkTargets(
  client: pg.ClientBase,
  seeds: readonly RowsSeedFile[],
): Promise<SeedCatalog> {
  const catalog = await readSeedCatalog(client, seeds);
  const problems = seeds.flatMap((s) => checkSeedTarget(s, catalog).map((i) => i.message));
  if (problems.length > 0) {
    const head =
      problems.length === 1
        ? 'a seed does not fit the database'
        : `${problems.length} seed problems`;
    throw new SeedError(`${head}:\n${problems.map((p) => `  - ${p}`).join('\n')}\n${ROLLED_BACK}`, {
      details: { problems },
    });
  }
  return catalog;
}

/** A SeedError for a declarative seed's failed statement, naming the row and column when known. */
function rowsSeedError(
  seed: RowsSeedFile,
  statement: SeedStatement,
  error: PgErrorFields & Error,
  password?: string,
): SeedError {
  const param = failingParam(error, statement);
  const row = param ? seed.rows[param.row] : undefined;
  const where =
    param && row
      ? `rows[${param.row}] (${describeKey(seed.key, row)}), column ${param.column}: `
      : '';
  const lines = [
    `${seedLabel(seed)}: ${where}${error.message}${error.code ? ` (SQLSTATE ${error.code})` : ''}`,
  ];
  if (error.detail) lines.push(`  detail: ${error.detail}`);
  if (error.hint) lines.push(`  hint: ${error.hint}`);
  lines.push(`  while writing ${seed.table}`, ROLLED_BACK);
  return new SeedError(redactSecret(lines.join('\n'), password), {
    cause: error,
    details: {
      file: seed.name,
      table: seed.table,
      sqlstate: error.code,
      row: param?.row,
      column: param?.column,
    },
  });
}

/** Writes a declarative seed: one statement per set of columns its rows name; counts exactly. */
async function applyRowsSeed(
  client: pg.ClientBase,
  seed: RowsSeedFile,
  catalog: SeedCatalog,
  password?: string,
): Promise<Counts> {
  const table = catalog.get(tableKey(seed.table));
  if (!table)
    throw new PreflightError(
      'internal',
      ExitCode.internal,
      `${seed.table} was not checked before writing`,
    );
  const counts: Counts = { inserted: 0, updated: 0 };
  for (const group of groupRows(seed.rows.map((row, index) => ({ index, row })))) {
    const statement = buildUpsert(seed, group, table);
    let result: pg.QueryResult<{ inserted: boolean }>;
    try {
      result = await client.query<{ inserted: boolean }>(statement.text, statement.values);
    } catch (error) {
      throw isPgError(error) ? rowsSeedError(seed, statement, error, password) : error;
    }
    for (const row of result.rows) {
      if (row.inserted) counts.inserted += 1;
      else counts.updated += 1;
    }
  }
  return counts;
}

/**
 * Runs a SQL seed as written (simple protocol, the whole file at once). It counts what the
 * server reports: rows of INSERT commands as inserted, of UPDATE and MERGE as updated.
 */
async function applySqlSeed(
  client: pg.ClientBase,
  seed: SqlSeedFile,
  password?: string,
): Promise<Counts> {
  // The BOM becomes a space so that the server's error positions still match the file.
  const sql = seed.sql.startsWith(BOM) ? ` ${seed.sql.slice(1)}` : seed.sql;
  const counts: Counts = { inserted: 0, updated: 0 };
  if (splitStatements(sql).length === 0) return counts;
  let results: pg.QueryResult[];
  try {
    const result = (await client.query(sql)) as pg.QueryResult | pg.QueryResult[];
    results = Array.isArray(result) ? result : [result];
  } catch (error) {
    if (!isPgError(error)) throw error;
    const { text, location } = formatSqlError(seedLabel(seed), sql, error, 0, password);
    throw new SeedError(`seed failed: ${text}\n${ROLLED_BACK}`, {
      cause: error,
      details: {
        file: seed.name,
        line: location?.line,
        column: location?.column,
        sqlstate: error.code,
      },
    });
  }
  for (const result of results) {
    if (result.command === 'INSERT') counts.inserted += result.rowCount ?? 0;
    if (result.command === 'UPDATE' || result.command === 'MERGE')
      counts.updated += result.rowCount ?? 0;
  }
  return counts;
}

/**
 * Applies the seeds in order, inside the transaction the caller opened (and rolls back when
 * this throws). Before writing, checks in one catalog query that the declarative seeds' tables,
 * columns and key indexes exist (those after a SQL seed are checked once it has run, since it
 * may create them); throws SeedError for any problem or failing statement.
 */
export async function applySeeds(
  client: pg.ClientBase,
  seeds: readonly SeedFile[],
  options: ApplySeedsOptions = {},
): Promise<SeedFileResult[]> {
  const firstSql = seeds.findIndex((s) => s.kind === 'sql');
  const beforeSql = firstSql < 0 ? seeds : seeds.slice(0, firstSql);
  let catalog = await checkTargets(client, beforeSql.filter(isRows));
  let stale = false;
  const results: SeedFileResult[] = [];
  for (const [i, seed] of seeds.entries()) {
    const started = Date.now();
    let counts: Counts;
    if (seed.kind === 'sql') {
      counts = await applySqlSeed(client, seed, options.password);
      stale = true;
    } else {
      // A SQL seed may have created or altered the tables of the declarative seeds after it.
      if (stale) catalog = await checkTargets(client, seeds.slice(i).filter(isRows));
      stale = false;
      counts = await applyRowsSeed(client, seed, catalog, options.password);
    }
    results.push({ file: seed.name, ...counts });
    options.logger?.info(
      { event: 'seed.applied', file: seed.name, ...counts, durationMs: Date.now() - started },
      `${seedLabel(seed)}: ${counts.inserted} inserted, ${counts.updated} updated`,
    );
  }
  return results;
}
