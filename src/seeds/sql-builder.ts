/**
 * Builds the statements of declarative seeds: identifiers quoted exactly as written (so
 * `licenseNumber` keeps its case), every value a parameter cast to its column's type.
 * Pure: seed rows and catalog facts in, SQL text and parameter values out.
 */
import { splitTable, type ColumnInfo, type TableInfo } from './catalog.js';
import type { RowsSeedFile, SeedRow, SeedValue } from './types.js';
import type { PgErrorFields } from '../migrations/sql-error.js';

/** A statement and its parameters; `params[i]` says which row and column `$i+1` carries. */
export interface SeedStatement {
  readonly text: string;
  readonly values: unknown[];
  readonly params: ReadonlyArray<{ readonly row: number; readonly column: string }>;
}

/** Rows that name the same columns, with their positions in the file. */
export interface RowGroup {
  readonly columns: readonly string[];
  readonly rows: ReadonlyArray<{ readonly index: number; readonly row: SeedRow }>;
}

// Postgres allows 65535 parameters per statement; stay well below.
const MAX_PARAMS = 30_000;
// Types without an equality operator: compared through a cast instead.
const COMPARE_AS_TEXT = new Set([
  'xml',
  'point',
  'line',
  'lseg',
  'box',
  'path',
  'polygon',
  'circle',
]);

/** Quotes an identifier as written: `licenseNumber` → `"licenseNumber"`. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The seed's table, schema-qualified and quoted: `"public"."team_roles"`. */
export function quoteTable(table: string): string {
  const { schema, name } = splitTable(table);
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/** Groups rows by the set of columns they name (a multi-row VALUES needs the same columns). */
export function groupRows(rows: ReadonlyArray<{ index: number; row: SeedRow }>): RowGroup[] {
  const groups = new Map<string, { columns: string[]; rows: { index: number; row: SeedRow }[] }>();
  for (const entry of rows) {
    const columns = Object.keys(entry.row);
    const id = JSON.stringify([...columns].sort());
    const group = groups.get(id) ?? { columns, rows: [] };
    group.rows.push(entry);
    groups.set(id, group);
  }
  return [...groups.values()].flatMap((g) => chunkGroup(g, g.columns.length + 1));
}

/** Splits a group so that no statement carries more than MAX_PARAMS parameters. */
function chunkGroup(group: RowGroup, paramsPerRow: number): RowGroup[] {
  const size = Math.max(1, Math.floor(MAX_PARAMS / paramsPerRow));
  const chunks: RowGroup[] = [];
  for (let i = 0; i < group.rows.length; i += size) {
    chunks.push({ columns: group.columns, rows: group.rows.slice(i, i + size) });
  }
  return chunks;
}

/**
 * The parameter value for a JSON value: a json/jsonb column gets the value as JSON text (a
 * string becomes a JSON string), an array column a JS array (node-postgres writes the array
 * literal), anything else its text; Postgres casts it.
 */
export function encodeValue(value: SeedValue, column: ColumnInfo): unknown {
  if (value === null) return null;
  if (column.type === 'json' || column.type === 'jsonb') return JSON.stringify(value);
  if (Array.isArray(value) && column.isArray) return value;
  return typeof value === 'object' ? JSON.stringify(value) : value;
}

/** An expression made comparable with IS DISTINCT FROM, whatever the column's type. */
export function comparable(expression: string, column: ColumnInfo): string {
  if (column.type === 'json') return `${expression}::jsonb`;
  return COMPARE_AS_TEXT.has(column.type) ? `${expression}::text` : expression;
}

function columnOf(table: TableInfo, name: string): ColumnInfo {
  const column = table.columns.get(name);
  if (!column) throw new Error(`column ${name} was not checked against the catalog`);
  return column;
}

/** A VALUES list of the group's rows, optionally led by the row's index in the file. */
function valuesList(
  group: RowGroup,
  table: TableInfo,
  withIndex: boolean,
  values: unknown[],
  params: { row: number; column: string }[],
): string {
  const tuples = group.rows.map(({ index, row }) => {
    const cells: string[] = [];
    if (withIndex) {
      values.push(index);
      params.push({ row: index, column: '#' });
      cells.push(`$${values.length}::int`);
    }
    for (const name of group.columns) {
      const column = columnOf(table, name);
      values.push(encodeValue(row[name] ?? null, column));
      params.push({ row: index, column: name });
      cells.push(`$${values.length}::${column.type}`);
    }
    return `(${cells.join(', ')})`;
  });
  return tuples.join(',\n  ');
}

/**
 * One INSERT for a group of rows. insert-missing: ON CONFLICT DO NOTHING. upsert: DO UPDATE
 * of the non-key columns, only where one differs, so an unchanged row is neither inserted nor
 * updated. Every returned row says whether it was inserted (xmax = 0) or updated.
 */
export function buildUpsert(seed: RowsSeedFile, group: RowGroup, table: TableInfo): SeedStatement {
  const values: unknown[] = [];
  const params: { row: number; column: string }[] = [];
  const rows = valuesList(group, table, false, values, params);
  const key = seed.key.map(quoteIdent).join(', ');
  const others = group.columns.filter((c) => !seed.key.includes(c));
  let action = 'DO NOTHING';
  if (seed.mode === 'upsert' && others.length > 0) {
    const set = others.map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`).join(', ');
    const changed = others
      .map((c) => {
        const column = columnOf(table, c);
        return `${comparable(`t.${quoteIdent(c)}`, column)} IS DISTINCT FROM ${comparable(`EXCLUDED.${quoteIdent(c)}`, column)}`;
      })
      .join('\n     OR ');
    action = `DO UPDATE SET ${set}\n  WHERE ${changed}`;
  }
  const text = `INSERT INTO ${quoteTable(seed.table)} AS t (${group.columns.map(quoteIdent).join(', ')})
VALUES
  ${rows}
ON CONFLICT (${key}) ${action}
RETURNING (t.xmax = 0) AS inserted`;
  return { text, values, params };
}

/** One SELECT per group, joined by UNION ALL: per row whether it exists and which columns differ. */
function verifySelect(
  seed: RowsSeedFile,
  group: RowGroup,
  table: TableInfo,
  values: unknown[],
  params: { row: number; column: string }[],
): string {
  const compare = group.columns.filter((c) => !seed.key.includes(c));
  const rows = valuesList(group, table, true, values, params);
  const alias = ['"#"', ...group.columns.map(quoteIdent)].join(', ');
  const join = seed.key.map((c) => `t.${quoteIdent(c)} = v.${quoteIdent(c)}`).join(' AND ');
  const differs = compare.map((c) => {
    const column = columnOf(table, c);
    return `${comparable(`t.${quoteIdent(c)}`, column)} IS DISTINCT FROM ${comparable(`v.${quoteIdent(c)}`, column)}`;
  });
  const have = compare.map((c) => `to_jsonb(t.${quoteIdent(c)})`);
  return `SELECT v."#" AS "row", t.${quoteIdent(seed.key[0] ?? '')} IS NOT NULL AS found,
  ARRAY[${differs.join(', ')}]::boolean[] AS differs,
  to_jsonb(ARRAY[${have.join(', ')}]::jsonb[]) AS have,
  ARRAY[${compare.map((c) => `'${c.replace(/'/g, "''")}'`).join(', ')}]::text[] AS columns
FROM (VALUES
  ${rows}
) AS v(${alias})
LEFT JOIN ${quoteTable(seed.table)} AS t ON ${join}`;
}

/**
 * The read-only query that checks a seed's rows: found by key, and for upsert seeds which of
 * the other columns differ and what the table holds (as JSON). Columns not in `table` are left out.
 */
export function buildVerify(seed: RowsSeedFile, table: TableInfo): SeedStatement[] {
  const projected = seed.rows.map((row, index) => {
    const keep = Object.keys(row).filter(
      (c) => table.columns.has(c) && (seed.mode === 'upsert' || seed.key.includes(c)),
    );
    return { index, row: Object.fromEntries(keep.map((c) => [c, row[c] ?? null])) };
  });
  const batches: RowGroup[][] = [];
  let used = Infinity;
  for (const group of groupRows(projected)) {
    const size = group.rows.length * (group.columns.length + 1);
    if (used + size > MAX_PARAMS) {
      batches.push([]);
      used = 0;
    }
    batches[batches.length - 1]?.push(group);
    used += size;
  }
  return batches.map((groups) => {
    const values: unknown[] = [];
    const params: { row: number; column: string }[] = [];
    const text = groups
      .map((g) => verifySelect(seed, g, table, values, params))
      .join('\nUNION ALL\n');
    return { text, values, params };
  });
}

/**
 * Which row and column a server error is about, when it names a parameter: a value the server
 * cannot read as its column's type fails at bind time, with context `unnamed portal parameter $n`.
 */
export function failingParam(
  error: PgErrorFields,
  statement: SeedStatement,
): { row: number; column: string } | undefined {
  const match = /portal parameter \$(\d+)/.exec(error.where ?? '');
  return match ? statement.params[Number(match[1]) - 1] : undefined;
}
