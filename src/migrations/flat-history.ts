import { PREFLIGHT_LOCK_KEY } from '../lock/advisory-lock.js';
import type { HistoryStore } from './history.js';
import { historyRows, isUndefinedTable, unreadableHistory } from './history.js';
import type { AppliedMigration } from './types.js';

const TABLE = 'preflight_migrations';

/** version, name, checksum, finished. */
type Row = [string, string, string, boolean];

/** History of the flat layout: one row per migration in `preflight_migrations`. */
export const flatHistory: HistoryStore = {
  table: TABLE,
  lockKey: PREFLIGHT_LOCK_KEY,

  async ensure(client) {
    await client.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (
      version      text PRIMARY KEY,
      name         text NOT NULL,
      checksum     text NOT NULL,
      started_at   timestamptz NOT NULL DEFAULT now(),
      finished_at  timestamptz,
      execution_ms integer,
      applied_by   text NOT NULL DEFAULT current_user,
      error        text
    )`);
  },

  async read(client) {
    try {
      return flatHistory.fromRows((await client.query(flatHistory.readSql)).rows);
    } catch (error) {
      if (isUndefinedTable(error)) return [];
      throw unreadableHistory(error, TABLE);
    }
  },

  // Flags, not timestamps: nothing uses the times, and parsing them costs on long histories. One
  // JSON value rather than a row per migration: a fraction of the client's time on long histories.
  readSql: `SELECT COALESCE(pg_catalog.json_agg(pg_catalog.json_build_array(version, name, checksum, finished_at IS NOT NULL)), '[]')::text AS history FROM ${TABLE}`,

  fromRows(rows) {
    return historyRows<Row>(rows).map(
      ([version, name, checksum, finished]): AppliedMigration => ({
        id: version,
        name,
        checksum,
        failed: !finished,
      }),
    );
  },

  appliedRowSql(client, file, durationMs) {
    return `INSERT INTO ${TABLE} (version, name, checksum, finished_at, execution_ms) VALUES (${client.escapeLiteral(file.id)}, ${client.escapeLiteral(file.name)}, ${client.escapeLiteral(file.checksum)}, clock_timestamp(), ${Math.round(durationMs)})`;
  },

  async recordStarted(client, file) {
    await client.query(
      `INSERT INTO ${TABLE} (version, name, checksum) VALUES ($1, $2, $3)
       ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, checksum = EXCLUDED.checksum, started_at = now(), finished_at = NULL, error = NULL`,
      [file.id, file.name, file.checksum],
    );
  },

  async recordFinished(client, file, durationMs) {
    await client.query(
      `UPDATE ${TABLE} SET finished_at = clock_timestamp(), execution_ms = $2, error = NULL WHERE version = $1`,
      [file.id, Math.round(durationMs)],
    );
  },

  async recordFailed(client, file, error) {
    await client.query(`UPDATE ${TABLE} SET error = $2 WHERE version = $1`, [file.id, error.slice(0, 4000)]);
  },

  async forget(client, file) {
    await client.query(`DELETE FROM ${TABLE} WHERE version = $1`, [file.id]);
  },

  async markRolledBack(client, id) {
    await client.query(`DELETE FROM ${TABLE} WHERE version = $1 AND finished_at IS NULL`, [id]);
  },

  async markApplied(client, file) {
    // execution_ms stays null: the migration was not run by preflight.
    await client.query(
      `INSERT INTO ${TABLE} (version, name, checksum, finished_at) VALUES ($1, $2, $3, now())`,
      [file.id, file.name, file.checksum],
    );
  },

  async updateChecksum(client, file) {
    await client.query(
      `UPDATE ${TABLE} SET checksum = $2, name = $3 WHERE version = $1 AND finished_at IS NOT NULL`,
      [file.id, file.checksum, file.name],
    );
  },
};
