import { randomUUID } from 'node:crypto';
import { PRISMA_LOCK_KEY } from '../lock/advisory-lock.js';
import type { HistoryStore } from './history.js';
import { historyRows, isUndefinedTable, unreadableHistory } from './history.js';
import type { AppliedMigration } from './types.js';

const TABLE = '_prisma_migrations';

/** id, checksum, migration_name, finished, rolled back. */
type Row = [string, string, string, boolean, boolean];

/**
 * History of the prisma layout, written exactly as `prisma migrate deploy` writes it, so that
 * `prisma migrate status` agrees afterwards. Rolled-back rows do not count as applied.
 */
export const prismaHistory: HistoryStore = {
  table: TABLE,
  lockKey: PRISMA_LOCK_KEY,

  async ensure(client) {
    await client.query(`CREATE TABLE IF NOT EXISTS "${TABLE}" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`);
  },

  async read(client) {
    try {
      return prismaHistory.fromRows((await client.query(prismaHistory.readSql)).rows);
    } catch (error) {
      if (isUndefinedTable(error)) return [];
      throw unreadableHistory(error, TABLE);
    }
  },

  // Flags, not timestamps: nothing uses the times, and parsing them costs on long histories. One
  // JSON value rather than a row per migration: a fraction of the client's time on long histories.
  readSql: `SELECT COALESCE(pg_catalog.json_agg(pg_catalog.json_build_array(id, checksum, migration_name, finished_at IS NOT NULL, rolled_back_at IS NOT NULL) ORDER BY started_at), '[]')::text AS history FROM "${TABLE}"`,

  fromRows(rows) {
    return historyRows<Row>(rows)
      .filter(([, , , , rolledBack]) => !rolledBack)
      .map(
        ([id, checksum, name, finished]): AppliedMigration => ({
          id: name,
          name,
          checksum,
          failed: !finished,
          rowId: id,
        }),
      );
  },

  appliedRowSql(client, file) {
    return `INSERT INTO "${TABLE}" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count) VALUES (${client.escapeLiteral(randomUUID())}, ${client.escapeLiteral(file.checksum)}, clock_timestamp(), ${client.escapeLiteral(file.name)}, NULL, NULL, now(), 1)`;
  },

  async recordStarted(client, file) {
    await client.query(
      `INSERT INTO "${TABLE}" (id, checksum, migration_name, started_at, applied_steps_count) VALUES ($1, $2, $3, now(), 0)`,
      [randomUUID(), file.checksum, file.name],
    );
  },

  async recordFinished(client, file) {
    await client.query(
      `UPDATE "${TABLE}" SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE migration_name = $1 AND finished_at IS NULL AND rolled_back_at IS NULL`,
      [file.name],
    );
  },

  async recordFailed(client, file, error) {
    await client.query(
      `UPDATE "${TABLE}" SET logs = $2 WHERE migration_name = $1 AND finished_at IS NULL AND rolled_back_at IS NULL`,
      [file.name, error],
    );
  },

  async forget(client, file) {
    await client.query(`DELETE FROM "${TABLE}" WHERE migration_name = $1 AND finished_at IS NULL AND rolled_back_at IS NULL`, [
      file.name,
    ]);
  },

  async markRolledBack(client, id) {
    await client.query(
      `UPDATE "${TABLE}" SET rolled_back_at = now() WHERE migration_name = $1 AND finished_at IS NULL AND rolled_back_at IS NULL`,
      [id],
    );
  },

  async markApplied(client, file) {
    // As `prisma migrate resolve --applied` writes it: logs '', no steps, started = finished.
    await client.query(
      `INSERT INTO "${TABLE}" (id, checksum, logs, started_at, finished_at, migration_name) VALUES ($1, $2, '', now(), now(), $3)`,
      [randomUUID(), file.checksum, file.name],
    );
  },

  async updateChecksum(client, file) {
    await client.query(
      `UPDATE "${TABLE}" SET checksum = $2 WHERE migration_name = $1 AND finished_at IS NOT NULL AND rolled_back_at IS NULL`,
      [file.name, file.checksum],
    );
  },
};

