import type pg from 'pg';
import { isPipelined } from '../connection/session.js';
import { SeedError } from '../errors.js';
import { isPgError } from '../migrations/sql-error.js';
import type { Finding } from '../report/findings.js';
import {
  checkSeedTarget,
  readSeedCatalog,
  tableKey,
  type SeedCatalog,
  type TableInfo,
} from './catalog.js';
import { declarativeSeeds, seedLabel } from './source.js';
import { buildVerify, failingParam, type SeedStatement } from './sql-builder.js';
import type { RowsSeedFile, SeedFile } from './types.js';
import { describeKey, show } from './validate.js';

interface VerifyRow {
  row: number;
  found: boolean;
  differs: boolean[];
  have: unknown[];
  columns: string[];
}

const CATEGORY = 'system data';

/** The findings for what of the seed's table is missing; `blocking` when its rows cannot be checked. */
function targetFindings(
  seed: RowsSeedFile,
  table: TableInfo | undefined,
): { findings: Finding[]; blocking: boolean } {
  const label = seedLabel(seed);
  if (!table) {
    const message = `table ${seed.table} is missing: the ${seed.rows.length} row(s) of ${label} cannot be checked`;
    return {
      findings: [
        { kind: 'missing', category: CATEGORY, severity: 'error', object: seed.table, message },
      ],
      blocking: true,
    };
  }
  const issues = checkSeedTarget(seed, new Map([[tableKey(seed.table), table]])).filter(
    (i) => i.kind === 'column' && i.missing,
  );
  const findings = issues.map((issue): Finding => {
    const object = `${seed.table}.${issue.column ?? ''}`;
    return {
      kind: 'missing',
      category: CATEGORY,
      severity: 'error',
      object,
      message: `column ${object} is missing (${label} sets it)`,
    };
  });
  return { findings, blocking: issues.some((i) => seed.key.includes(i.column ?? '')) };
}

/** Turns one row of the verify query into findings: missing, or one per differing column. */
function rowFindings(seed: RowsSeedFile, result: VerifyRow): Finding[] {
  const row = seed.rows[result.row] ?? {};
  const key = describeKey(seed.key, row);
  const object = `${seed.table}[${key}]`;
  const label = seedLabel(seed);
  if (!result.found) {
    return [
      {
        kind: 'missing',
        category: CATEGORY,
        severity: 'error',
        object,
        message: `${seed.table} row ${key} is missing (${label})`,
      },
    ];
  }
  return result.columns.flatMap((column, i): Finding[] => {
    if (!result.differs[i]) return [];
    const have = result.have[i] ?? null;
    const want = row[column] ?? null;
    const message = `${seed.table} row ${key}: ${column} is ${show(have, 80)}, ${label} wants ${show(want, 80)}`;
    return [
      {
        kind: 'different',
        category: CATEGORY,
        severity: 'error',
        object,
        property: column,
        have,
        want,
        message,
      },
    ];
  });
}

/** Runs one verify statement; a value the server cannot read as its column's type is a SeedError. */
async function runVerify(
  client: pg.ClientBase,
  seed: RowsSeedFile,
  statement: SeedStatement,
): Promise<VerifyRow[]> {
  try {
    return (await client.query<VerifyRow>(statement.text, statement.values)).rows;
  } catch (error) {
    if (!isPgError(error)) throw error;
    const param = failingParam(error, statement);
    const where = param ? `rows[${param.row}], column ${param.column}: ` : '';
    throw new SeedError(
      `${seedLabel(seed)}: rows cannot be checked: ${where}${error.message} (SQLSTATE ${error.code})`,
      {
        cause: error,
        details: { file: seed.name, table: seed.table, sqlstate: error.code },
      },
    );
  }
}

/**
 * Checks that every row of the declarative seeds exists by its key and, for upsert seeds, that
 * its other columns hold the seed's values. Reads only: one catalog query (none when `known`, the
 * seeds' tables as a verified state kept them), then one query per file. A missing table is one
 * finding for its file, not one per row.
 */
export async function verifySeedRows(
  client: pg.ClientBase,
  seeds: readonly SeedFile[],
  known?: SeedCatalog,
): Promise<Finding[]> {
  const declarative = declarativeSeeds(seeds);
  const catalog = known ?? (await readSeedCatalog(client, declarative));
  const checks = declarative.map((seed) => {
    const table = catalog.get(tableKey(seed.table));
    const target = targetFindings(seed, table);
    const statements = target.blocking || !table ? [] : buildVerify(seed, table);
    return { seed, target, statements };
  });
  // Pipelined, every statement is sent now (one round trip for all), and awaited in order below.
  const sent = isPipelined(client)
    ? checks.map(({ seed, statements }) => statements.map((s) => runVerify(client, seed, s)))
    : undefined;
  for (const rows of sent?.flat() ?? []) rows.catch(() => undefined);
  const findings: Finding[] = [];
  for (const [i, { seed, target, statements }] of checks.entries()) {
    findings.push(...target.findings);
    const rows: VerifyRow[] = [];
    for (const [j, statement] of statements.entries())
      rows.push(...(await (sent?.[i]?.[j] ?? runVerify(client, seed, statement))));
    rows.sort((a, b) => a.row - b.row);
    findings.push(...rows.flatMap((row) => rowFindings(seed, row)));
  }
  return findings;
}
