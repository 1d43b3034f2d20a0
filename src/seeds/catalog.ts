import type pg from 'pg';
import { seedLabel } from './source.js';
import type { RowsSeedFile } from './types.js';

/** A column of a seed's table, as the catalog describes it. */
export interface ColumnInfo {
  readonly name: string;
  /** `format_type` without the type modifier, so a cast never truncates (`character varying`). */
  readonly type: string;
  readonly isArray: boolean;
  /** `GENERATED ALWAYS AS IDENTITY` (`a`), `BY DEFAULT` (`d`) or not an identity (empty). */
  readonly identity: string;
  /** A generated (computed) column (`s`), or empty. */
  readonly generated: string;
}

/** A unique index of a seed's table, with what decides whether ON CONFLICT can use it. */
export interface UniqueIndexInfo {
  readonly name: string;
  readonly columns: readonly string[];
  readonly valid: boolean;
  readonly immediate: boolean;
  readonly partial: boolean;
  readonly expression: boolean;
}

/** A seed's table as found in the catalog. */
export interface TableInfo {
  /** `r` table, `p` partitioned table; anything else (a view, ...) cannot be seeded. */
  readonly relkind: string;
  readonly columns: ReadonlyMap<string, ColumnInfo>;
  readonly uniqueIndexes: readonly UniqueIndexInfo[];
}

/** The seeds' tables by `tableKey`; a table that does not exist is absent. */
export type SeedCatalog = ReadonlyMap<string, TableInfo>;

/** What stops a declarative seed from being applied (or checked), with the object it names. */
export interface SeedTargetIssue {
  readonly seed: RowsSeedFile;
  readonly kind: 'table' | 'column' | 'key';
  /** For `column`: the column that does not exist or cannot be written. */
  readonly column?: string;
  /** True when the table or column does not exist at all. */
  readonly missing: boolean;
  /** The full line for the error: `seeds/x.json: column team_roles.can_fly does not exist`. */
  readonly message: string;
}

/** Schema and table name of a seed's `table` (`team_roles` is in schema public). */
export function splitTable(table: string): { schema: string; name: string } {
  const dot = table.indexOf('.');
  return dot < 0
    ? { schema: 'public', name: table }
    : { schema: table.slice(0, dot), name: table.slice(dot + 1) };
}

/** The catalog map key of a seed's table. */
export function tableKey(table: string): string {
  const { schema, name } = splitTable(table);
  return JSON.stringify([schema, name]);
}

// One round trip for every table of every declarative seed: columns and unique indexes as JSON.
const CATALOG_QUERY = `
SELECT w.schema_name, w.table_name, c.relkind::text AS relkind,
  COALESCE((
    SELECT json_agg(json_build_object(
      'name', a.attname, 'type', format_type(a.atttypid, NULL), 'isArray', t.typcategory = 'A',
      'identity', a.attidentity::text, 'generated', a.attgenerated::text) ORDER BY a.attnum)
    FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]') AS columns,
  COALESCE((
    SELECT json_agg(json_build_object(
      'name', ic.relname, 'valid', i.indisvalid, 'immediate', i.indimmediate,
      'partial', i.indpred IS NOT NULL, 'expression', i.indexprs IS NOT NULL,
      'columns', (SELECT COALESCE(json_agg(a.attname ORDER BY k.ord), '[]')
                  FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                  WHERE k.ord <= i.indnkeyatts)) ORDER BY ic.relname)
    FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
    WHERE i.indrelid = c.oid AND i.indisunique), '[]') AS unique_indexes
FROM unnest($1::text[], $2::text[]) AS w(schema_name, table_name)
JOIN pg_namespace n ON n.nspname = w.schema_name
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.table_name
`;

interface CatalogRow {
  schema_name: string;
  table_name: string;
  relkind: string;
  columns: ColumnInfo[];
  unique_indexes: UniqueIndexInfo[];
}

/** Reads the tables, columns and unique indexes of every declarative seed in one query. */
export async function readSeedCatalog(
  client: pg.ClientBase,
  seeds: readonly RowsSeedFile[],
): Promise<SeedCatalog> {
  const tables = [...new Map(seeds.map((s) => [tableKey(s.table), splitTable(s.table)])).values()];
  const catalog = new Map<string, TableInfo>();
  if (tables.length === 0) return catalog;
  const result = await client.query<CatalogRow>(CATALOG_QUERY, [
    tables.map((t) => t.schema),
    tables.map((t) => t.name),
  ]);
  for (const row of result.rows) {
    catalog.set(JSON.stringify([row.schema_name, row.table_name]), {
      relkind: row.relkind,
      columns: new Map(row.columns.map((c) => [c.name, c])),
      uniqueIndexes: row.unique_indexes,
    });
  }
  return catalog;
}

/** A seed table's catalog as kept with a verified state (JSON): see storedSeedCatalog. */
export interface StoredSeedTable {
  /** tableKey of the table. */
  readonly key: string;
  readonly relkind: string;
  readonly columns: readonly ColumnInfo[];
  readonly uniqueIndexes: readonly UniqueIndexInfo[];
}

/** The seeds' tables as JSON, to keep with a verified state (tables that do not exist are left out). */
export function storedSeedCatalog(catalog: SeedCatalog): StoredSeedTable[] {
  return [...catalog].map(([key, table]) => ({
    key,
    relkind: table.relkind,
    columns: [...table.columns.values()],
    uniqueIndexes: table.uniqueIndexes,
  }));
}

/**
 * The seeds' catalog from what a verified state kept (storedSeedCatalog), when it holds every
 * table the seeds name and reads back as written; undefined otherwise (then it is read again).
 */
export function seedCatalogFrom(
  stored: unknown,
  seeds: readonly RowsSeedFile[],
): SeedCatalog | undefined {
  if (!Array.isArray(stored)) return undefined;
  const text = (v: unknown): v is string => typeof v === 'string';
  const flag = (v: unknown): v is boolean => typeof v === 'boolean';
  const record = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  const column = (c: unknown): c is ColumnInfo =>
    record(c) &&
    text(c.name) &&
    text(c.type) &&
    flag(c.isArray) &&
    text(c.identity) &&
    text(c.generated);
  const index = (i: unknown): i is UniqueIndexInfo =>
    record(i) &&
    text(i.name) &&
    Array.isArray(i.columns) &&
    i.columns.every(text) &&
    [i.valid, i.immediate, i.partial, i.expression].every(flag);
  const catalog = new Map<string, TableInfo>();
  for (const table of stored) {
    if (!record(table) || !text(table.key) || !text(table.relkind)) return undefined;
    const { columns, uniqueIndexes } = table;
    if (!Array.isArray(columns) || !columns.every(column)) return undefined;
    if (!Array.isArray(uniqueIndexes) || !uniqueIndexes.every(index)) return undefined;
    catalog.set(table.key, {
      relkind: table.relkind,
      columns: new Map(columns.map((c) => [c.name, c])),
      uniqueIndexes,
    });
  }
  return seeds.every((seed) => catalog.has(tableKey(seed.table))) ? catalog : undefined;
}

/** Every column a seed names: its key first, then the rows' columns in order of appearance. */
export function seedColumns(seed: RowsSeedFile): string[] {
  const columns = new Set(seed.key);
  for (const row of seed.rows) for (const column of Object.keys(row)) columns.add(column);
  return [...columns];
}

const sameColumns = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((c) => b.includes(c));

/** Why a unique index on exactly the key columns cannot be an ON CONFLICT target, if one exists. */
function unusableReason(index: UniqueIndexInfo): string | undefined {
  if (index.partial) return `${index.name} is partial`;
  if (index.expression) return `${index.name} is on an expression`;
  if (!index.valid) return `${index.name} is INVALID`;
  if (!index.immediate) return `${index.name} is DEFERRABLE`;
  return undefined;
}

function checkKeyIndex(seed: RowsSeedFile, table: TableInfo): SeedTargetIssue | undefined {
  const candidates = table.uniqueIndexes.filter(
    (i) => i.columns.length > 0 && sameColumns(i.columns, seed.key),
  );
  const reasons = candidates.map(unusableReason);
  if (reasons.some((r) => r === undefined)) return undefined;
  const columns = seed.key.join(', ');
  const why = reasons.length > 0 ? ` usable by ON CONFLICT (${reasons.join(', ')})` : '';
  return {
    seed,
    kind: 'key',
    missing: false,
    message: `${seedLabel(seed)}: key (${columns}) of ${seed.table} has no unique index${why}: add a unique constraint on (${columns}), or change "key"`,
  };
}

function checkColumn(
  seed: RowsSeedFile,
  table: TableInfo,
  name: string,
): SeedTargetIssue | undefined {
  const column = table.columns.get(name);
  const at = `${seedLabel(seed)}: column ${seed.table}.${name}`;
  if (!column)
    return { seed, kind: 'column', column: name, missing: true, message: `${at} does not exist` };
  if (column.generated !== '') {
    return {
      seed,
      kind: 'column',
      column: name,
      missing: false,
      message: `${at} is a generated column: leave it out of the rows`,
    };
  }
  if (column.identity === 'a') {
    return {
      seed,
      kind: 'column',
      column: name,
      missing: false,
      message: `${at} is GENERATED ALWAYS AS IDENTITY: leave it out of the rows, or make it BY DEFAULT`,
    };
  }
  return undefined;
}

/** Checks one seed against the catalog: the table, every column it names, the key's unique index. */
export function checkSeedTarget(seed: RowsSeedFile, catalog: SeedCatalog): SeedTargetIssue[] {
  const table = catalog.get(tableKey(seed.table));
  const label = seedLabel(seed);
  if (!table) {
    const { schema } = splitTable(seed.table);
    const message = `${label}: table ${seed.table} does not exist in schema ${schema}: run the migrations that create it, or fix "table"`;
    return [{ seed, kind: 'table', missing: true, message }];
  }
  if (table.relkind !== 'r' && table.relkind !== 'p') {
    return [
      {
        seed,
        kind: 'table',
        missing: false,
        message: `${label}: ${seed.table} is not a table (relkind ${table.relkind}): seeds write to tables`,
      },
    ];
  }
  const issues = seedColumns(seed).flatMap((c) => checkColumn(seed, table, c) ?? []);
  if (issues.some((i) => i.missing && seed.key.includes(i.column ?? ''))) return issues;
  const keyIssue = checkKeyIndex(seed, table);
  return keyIssue ? [...issues, keyIssue] : issues;
}
