/** How a declarative seed treats rows that already exist (matched by key). */
export type SeedMode = 'insert-missing' | 'upsert';

export const SEED_MODES: readonly SeedMode[] = ['insert-missing', 'upsert'];

/** A JSON value as found in a seed row. */
export type SeedValue =
  string | number | boolean | null | SeedValue[] | { [key: string]: SeedValue };

/** One row of a declarative seed: column name (exact case) to value. */
export type SeedRow = Record<string, SeedValue>;

/** `seeds/*.sql`: idempotent SQL, run as written. */
export interface SqlSeedFile {
  readonly kind: 'sql';
  /** The file name, e.g. `005_backfill.sql`. */
  readonly name: string;
  readonly path: string;
  /** The file's text as read (a byte-order mark, if any, included). */
  readonly sql: string;
}

/** `seeds/*.json`: system rows that preflight writes itself. */
export interface RowsSeedFile {
  readonly kind: 'rows';
  readonly name: string;
  readonly path: string;
  /** As written in the file: `table` (schema public) or `schema.table`; exact case. */
  readonly table: string;
  /** The columns that identify a row; a unique index must cover exactly these. */
  readonly key: readonly string[];
  readonly mode: SeedMode;
  readonly rows: readonly SeedRow[];
}

/** One seed file, in the order the seeds run. */
export type SeedFile = SqlSeedFile | RowsSeedFile;
