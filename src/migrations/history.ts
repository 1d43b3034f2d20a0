import type pg from 'pg';
import type { AppliedMigration, MigrationFile } from './types.js';

/**
 * The history table of one layout. Contract: `read` returns [] when the table does not exist and
 * never creates it; every write runs on the given client, inside whatever transaction is open.
 */
export interface HistoryStore {
  readonly table: string;
  readonly lockKey: bigint;
  /** Creates the table if it does not exist (called under the lock, before the first write). */
  ensure(client: pg.ClientBase): Promise<void>;
  read(client: pg.ClientBase): Promise<AppliedMigration[]>;
  /**
   * The statement `read` sends (it fails with 42P01 when the table does not exist): one row, the
   * table's rows as one JSON array in its `history` column (see historyRows)...
   */
  readonly readSql: string;
  /** ...and what `read` makes of its rows: for a caller that sends it with other statements. */
  fromRows(rows: readonly unknown[]): AppliedMigration[];
  /** SQL that records a finished migration, to be sent together with COMMIT in one round trip. */
  appliedRowSql(client: pg.ClientBase, file: MigrationFile, durationMs: number): string;
  /** Records a migration as started (for migrations that run outside one transaction). */
  recordStarted(client: pg.ClientBase, file: MigrationFile): Promise<void>;
  recordFinished(client: pg.ClientBase, file: MigrationFile, durationMs: number): Promise<void>;
  recordFailed(client: pg.ClientBase, file: MigrationFile, error: string): Promise<void>;
  /** Deletes the row of a started migration that changed nothing (its first statement failed). */
  forget(client: pg.ClientBase, file: MigrationFile): Promise<void>;
  /**
   * `resolve --rolled-back`: the migration's failed rows no longer count (prisma: rolled_back_at
   * set, as `prisma migrate resolve` does; flat: deleted). Finished rows are left alone.
   */
  markRolledBack(client: pg.ClientBase, id: string): Promise<void>;
  /** `resolve --applied` and `baseline`: records the file as applied without running it. */
  markApplied(client: pg.ClientBase, file: MigrationFile): Promise<void>;
  /** `resolve --applied` of an edited migration: its finished rows take the file's checksum. */
  updateChecksum(client: pg.ClientBase, file: MigrationFile): Promise<void>;
}

/** Whether an error is Postgres's "relation does not exist". */
export function isUndefinedTable(error: unknown): boolean {
  return (error as { code?: string }).code === '42P01';
}

/**
 * The rows of a history as readSql returns them: one row whose `history` is a JSON array with an
 * array per row (a single value parses in a fraction of the time of a result row per migration).
 */
export function historyRows<T extends unknown[]>(rows: readonly unknown[]): T[] {
  const text = (rows[0] as { history?: unknown } | undefined)?.history;
  if (typeof text !== 'string') throw new Error('the history query returned no history');
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed) || !parsed.every((row) => Array.isArray(row))) {
    throw new Error('the history query returned something other than a list of rows');
  }
  return parsed as T[];
}
