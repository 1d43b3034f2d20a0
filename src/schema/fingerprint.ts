import type pg from 'pg';

/**
 * The catalog fingerprint: one cheap statement whose result changes whenever the schema could
 * have changed, so that a run can tell "exactly the catalog that was verified last time" from
 * "something changed" without reading and comparing the whole catalog.
 *
 * Every DDL statement inserts, updates or deletes rows of the system catalogs, and each new row
 * version carries the id of the transaction that wrote it (`xmin`). The fingerprint is the server
 * version, the number of catalog rows that describe user objects, and the sum of their `xmin`.
 * Take a fingerprint F at transaction X: every row then has `xmin <= X`, and every later change
 * removes rows with `xmin <= X` and adds rows with `xmin > X`. With as many rows added as removed,
 * the sum grows; otherwise the count moves. So F never comes back once the catalog has changed
 * (transaction ids wrap after 2^32; a repeat then needs an exact arithmetic coincidence).
 *
 * Catalog rows are MVCC rows, so data changes, ANALYZE, VACUUM (its statistics and freezing are
 * written in place, and freezing keeps the raw `xmin`) and `nextval` leave the fingerprint alone.
 * TRUNCATE, VACUUM FULL, CLUSTER and REFRESH MATERIALIZED VIEW move a relation to a new file and
 * change it: harmless, the next verification is a full one. Temporary relations are left out, so
 * an application's temporary tables do not defeat it. Role names (printed in policies) are not in
 * catalogs that every role may read by row, so the names that policies refer to are added as text.
 *
 * It covers every catalog the introspection reads (see introspect-queries.ts), and those of the
 * objects whose names it prints without reading them (operators, text search configurations and
 * dictionaries), for every schema, not only the expected ones: a change anywhere only costs one
 * full verification.
 */

/** User objects start at this OID (FirstNormalObjectId); lower ones were created by initdb. */
const FIRST_USER_OID = 16384;

const NOT_TEMP = (column: string): string => `${column} NOT IN (SELECT oid FROM tmp)`;
const NOT_IN_TEMP_SCHEMA = (column: string): string => `${column} NOT IN (SELECT oid FROM tmpns)`;

/** `catalog.xmin` of the rows that describe user objects (and the schemas that hold them). */
const ROWS = [
  `SELECT xmin FROM pg_catalog.pg_namespace WHERE ${NOT_IN_TEMP_SCHEMA('oid')}`,
  `SELECT xmin FROM pg_catalog.pg_class WHERE oid >= ${FIRST_USER_OID} AND relpersistence <> 't'`,
  `SELECT xmin FROM pg_catalog.pg_type WHERE oid >= ${FIRST_USER_OID} AND ${NOT_IN_TEMP_SCHEMA('typnamespace')}`,
  // Columns only: the system columns' rows come and go with their relation's pg_class row.
  `SELECT xmin FROM pg_catalog.pg_attribute WHERE attrelid >= ${FIRST_USER_OID} AND attnum > 0 AND ${NOT_TEMP('attrelid')}`,
  `SELECT xmin FROM pg_catalog.pg_attrdef WHERE adrelid >= ${FIRST_USER_OID} AND ${NOT_TEMP('adrelid')}`,
  `SELECT xmin FROM pg_catalog.pg_index WHERE indrelid >= ${FIRST_USER_OID} AND ${NOT_TEMP('indrelid')}`,
  `SELECT xmin FROM pg_catalog.pg_constraint WHERE oid >= ${FIRST_USER_OID} AND ${NOT_TEMP('conrelid')}`,
  `SELECT xmin FROM pg_catalog.pg_trigger WHERE oid >= ${FIRST_USER_OID} AND ${NOT_TEMP('tgrelid')}`,
  `SELECT xmin FROM pg_catalog.pg_policy`,
  `SELECT xmin FROM pg_catalog.pg_rewrite WHERE oid >= ${FIRST_USER_OID} AND ${NOT_TEMP('ev_class')}`,
  `SELECT xmin FROM pg_catalog.pg_sequence WHERE seqrelid >= ${FIRST_USER_OID} AND ${NOT_TEMP('seqrelid')}`,
  `SELECT xmin FROM pg_catalog.pg_inherits WHERE ${NOT_TEMP('inhrelid')}`,
  `SELECT xmin FROM pg_catalog.pg_partitioned_table WHERE ${NOT_TEMP('partrelid')}`,
  `SELECT xmin FROM pg_catalog.pg_proc WHERE oid >= ${FIRST_USER_OID} AND ${NOT_IN_TEMP_SCHEMA('pronamespace')}`,
  `SELECT xmin FROM pg_catalog.pg_enum WHERE oid >= ${FIRST_USER_OID}`,
  `SELECT xmin FROM pg_catalog.pg_collation WHERE oid >= ${FIRST_USER_OID}`,
  `SELECT xmin FROM pg_catalog.pg_opclass WHERE oid >= ${FIRST_USER_OID}`,
  // Not read by the introspection, but named in what it prints (an operator in a constraint, a
  // text search configuration or dictionary as a constant): moving one to another schema or
  // renaming it changes those texts, and nothing else in the catalog.
  `SELECT xmin FROM pg_catalog.pg_operator WHERE oid >= ${FIRST_USER_OID}`,
  `SELECT xmin FROM pg_catalog.pg_ts_config WHERE oid >= ${FIRST_USER_OID}`,
  `SELECT xmin FROM pg_catalog.pg_ts_dict WHERE oid >= ${FIRST_USER_OID}`,
  `SELECT xmin FROM pg_catalog.pg_language`,
  `SELECT xmin FROM pg_catalog.pg_extension`,
  `SELECT xmin FROM pg_catalog.pg_depend WHERE refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass`,
];

// By pg_get_userbyid, not by joining pg_roles: that view costs a new backend about 10 ms more
// (its planning and the shared catalogs behind it). A policy's roles are existing roles (or 0,
// PUBLIC, printed apart by the introspection), so the names are the same.
const POLICY_ROLES = `SELECT pg_catalog.string_agg(pg_catalog.pg_get_userbyid(r.o)::text, ',' ORDER BY r.o)
  FROM (SELECT DISTINCT pg_catalog.unnest(polroles) AS o FROM pg_catalog.pg_policy) r WHERE r.o <> 0`;

/** The rows the fingerprint counts and sums, as the WITH list that ends with them: `x`, their `xmin`. */
export const FINGERPRINT_ROWS = `tmp AS (SELECT oid FROM pg_catalog.pg_class WHERE relpersistence = 't'),
tmpns AS (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname ~ '^pg_(toast_)?temp_'),
x AS (
  ${ROWS.join('\n  UNION ALL ')}
)`;

/**
 * A row's `xmin` as a number, without printing it: `xid` has no cast to a number but through
 * text, and printing and parsing it was a fifth of the statement's work on the server (at 5,000
 * tables). `age(xmin)` is the transaction counter minus `xmin`, as a 32-bit signed number, and
 * `counter.n` the counter itself (`age` of the first normal id, 3, plus 3): `xmin` is the counter
 * minus its age, modulo 2^32, exactly. A special id (bootstrap, frozen in old clusters) has an age
 * of 2^31 - 1, as has by chance one that old: those are printed. The sum is the same number.
 */
const XMIN_NUMBER = `CASE WHEN x.age = 2147483647 THEN x.xmin::text::bigint
    ELSE (counter.n - x.age) & 4294967295 END`;

/**
 * The fingerprint as one text value: `<server_version_num>:<rows>:<sum of xmin>:<policy roles>`.
 * A scalar expression, to be used as `SELECT (${CATALOG_FINGERPRINT}) AS fingerprint`.
 */
export const CATALOG_FINGERPRINT = `WITH ${FINGERPRINT_ROWS}
SELECT pg_catalog.concat_ws(':', pg_catalog.current_setting('server_version_num'), pg_catalog.count(*),
  COALESCE(pg_catalog.sum(${XMIN_NUMBER}), 0), COALESCE((${POLICY_ROLES}), ''))
FROM (SELECT x.xmin, pg_catalog.age(x.xmin) AS age FROM x) x,
  (SELECT (pg_catalog.age('3'::pg_catalog.xid)::pg_catalog.int8 + 3) & 4294967295 AS n) counter`;

/**
 * A fingerprint as taken, with the server's snapshot of transactions (`pg_current_snapshot()`,
 * as `xmin:xmax:in-progress`) in the statement that took it: see startDigestRead.
 */
export interface TakenFingerprint {
  readonly fingerprint: string;
  readonly snapshot: string;
}

/** The fingerprint and its statement's snapshot (see TakenFingerprint), as one statement. */
export const FINGERPRINT_STATEMENT = `SELECT (${CATALOG_FINGERPRINT}) AS fingerprint,
  pg_catalog.pg_current_snapshot()::text AS snapshot`;

/** Takes the fingerprint now (on a pipelined session: behind what was sent before it). */
export async function takeFingerprint(client: pg.ClientBase): Promise<TakenFingerprint> {
  const row = (await client.query(FINGERPRINT_STATEMENT)).rows[0] as
    { fingerprint: string | null; snapshot: string } | undefined;
  if (row?.fingerprint == null) throw new Error('the catalog fingerprint query returned none');
  return { fingerprint: row.fingerprint, snapshot: row.snapshot };
}

/** Reads the fingerprint now (on a pipelined session: behind what was sent before it). */
export async function readFingerprint(client: pg.ClientBase): Promise<string> {
  return (await takeFingerprint(client)).fingerprint;
}
