import type pg from 'pg';
import { tableExists } from '../connection/table-exists.js';
import { HistoryConflictError } from '../errors.js';
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

/**
 * What `read` throws for an error of its statement: for a table of the history's name that lacks
 * a column the history has, or has one of another type (another tool's table, one altered by
 * hand), a history conflict (exit 6) that names the table and what to do; any other error as it is.
 */
export function unreadableHistory(error: unknown, table: string): unknown {
  const code = (error as { code?: string }).code;
  // undefined_column, datatype_mismatch, undefined_function (an operator for another type).
  if (code !== '42703' && code !== '42804' && code !== '42883') return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new HistoryConflictError(
    `the table ${table} exists but is not a migration history preflight can read (${reason}): ` +
      `it is another tool's table of that name or was altered by hand; rename or drop it, or ` +
      `restore its columns, then deploy again`,
    { table, reason },
  );
}

/**
 * Reads the history where its table exists: a probe of the table first (tableExists), the read only
 * once it shows the table. A database that no migration has reached yet is then never sent a read
 * of a table it does not have, which its server would log as an ERROR on every `verify` and
 * `status`. `run` reads without the probe (its read is pipelined behind the lock on every deploy,
 * where the probe would cost a round trip): only its first deploy to a database finds no table.
 * A table dropped between the probe and the read is read as empty, as `read` does.
 */
export async function readHistoryWherePresent(
  store: HistoryStore,
  client: pg.ClientBase,
): Promise<AppliedMigration[]> {
  return (await tableExists(client, store.table)) ? store.read(client) : [];
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
