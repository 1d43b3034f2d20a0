/** `flat`: migrations/<version>_<name>.sql; `prisma`: migrations/<timestamp>_<name>/migration.sql. */
export type Layout = 'flat' | 'prisma';

/** One migration file as found on disk. */
export interface MigrationFile {
  /** Identity in the history: the version as a number in the flat layout, the folder name in prisma. */
  readonly id: string;
  /** What humans see: the file name (flat) or the folder name (prisma). */
  readonly name: string;
  /** Path relative to the migrations directory. */
  readonly relativePath: string;
  readonly path: string;
  /** The file's text exactly as read (the checksum is computed from it). */
  readonly sql: string;
  /** The SQL to execute, offset for offset the same as `sql` (see `migrationBody`). */
  readonly body: string;
  /** Marked to run statement by statement (`-- preflight:no-transaction`, dbmate/goose options). */
  readonly noTransaction: boolean;
  /** The checksum stored when this file is applied. */
  readonly checksum: string;
}

/** The migrations directory, read and ordered. */
export interface MigrationSet {
  readonly layout: Layout;
  readonly dir: string;
  readonly files: readonly MigrationFile[];
  /** Things skipped that a human should know about (a folder without migration.sql, ...). */
  readonly warnings: readonly string[];
}

/** A row of the history table. */
export interface AppliedMigration {
  readonly id: string;
  readonly name: string;
  readonly checksum: string;
  /** Started but never finished (a non-transactional migration that stopped half-way, Prisma's P3009). */
  readonly failed: boolean;
  /** The history's own row key, when it has one apart from the id (Prisma's UUID). */
  readonly rowId?: string;
}

export type ConflictKind = 'edited' | 'missing' | 'failed' | 'out-of-order';

/** A disagreement between files and history that stops the run before anything changes. */
export interface Conflict {
  readonly kind: ConflictKind;
  readonly name: string;
  readonly message: string;
}

/** What a run would do: planned purely from files and history. */
export interface Plan {
  readonly applied: readonly MigrationFile[];
  readonly pending: readonly MigrationFile[];
  readonly conflicts: readonly Conflict[];
}
