/**
 * The catalog query behind `introspectSchema`: one statement that returns every object kind as
 * a JSON array (the tables' digests as lines of text beside it, see DIGEST_LINE), so a schema of
 * any size is read in one round trip and one consistent snapshot.
 * It reads pg_catalog only, leaves out objects that belong to an extension (pg_depend deptype
 * 'e'). Rows come in the catalog's order, not sorted: sorting 60,000 columns by name costs the
 * server more than building them, and nothing depends on the order (the snapshot is keyed by
 * name, findings are sorted, files are written with sorted keys).
 */

import type { SequenceState } from './types.js';

/** One row per object kind, as the query returns it. */
export interface CatalogRows {
  tables: TableRow[];
  columns: ColumnRow[];
  indexes: IndexRow[];
  constraints: ConstraintRow[];
  triggers: TriggerRow[];
  policies: PolicyRow[];
  functions: FunctionRow[];
  views: ViewRow[];
  sequences: SequenceRow[];
  enums: EnumRow[];
  extensions: ExtensionRow[];
  digests: DigestRow[];
}

interface Owned {
  schema: string;
  relation: string;
  name: string;
}

export interface TableRow {
  schema: string;
  name: string;
  partitioned: boolean;
  partitionKey: string | null;
  partitionOf: string | null;
  partitionBound: string | null;
  rls: boolean;
  rlsForced: boolean;
}

/**
 * The columns of one table, each as `[name, type, nullable, default, identity, generated]`: an
 * array per column, grouped by table, is about a third less JSON to build and to parse than an
 * object per column at 60,000 columns.
 */
export interface ColumnRow {
  schema: string;
  relation: string;
  columns: [
    name: string,
    type: string,
    nullable: boolean,
    defaultValue: string | null,
    identity: 'always' | 'by default' | null,
    generated: string | null,
  ][];
}

export interface IndexRow extends Owned {
  definition: string;
  valid: boolean;
}

export interface ConstraintRow extends Owned {
  type: 'primary key' | 'foreign key' | 'unique' | 'check' | 'exclusion';
  definition: string;
  deferrable: boolean;
  deferred: boolean;
  validated: boolean;
}

export interface TriggerRow extends Owned {
  definition: string;
  enabled: 'O' | 'D' | 'R' | 'A';
}

export interface PolicyRow extends Owned {
  command: 'all' | 'select' | 'insert' | 'update' | 'delete';
  permissive: boolean;
  roles: string[];
  using: string | null;
  withCheck: string | null;
}

export interface FunctionRow {
  schema: string;
  name: string;
  args: string;
  kind: 'function' | 'procedure' | 'aggregate' | 'window';
  returns: string | null;
  language: string;
  definition: string | null;
}

export interface ViewRow {
  schema: string;
  name: string;
  kind: 'view' | 'materialized';
  definition: string;
}

/** A sequence's row: its state as the snapshot keeps it, and where it is. */
export interface SequenceRow extends SequenceState {
  schema: string;
  name: string;
}

export interface EnumRow {
  schema: string;
  name: string;
  labels: string[];
}

export interface ExtensionRow {
  name: string;
  schema: string;
  version: string;
}

/**
 * The digest of a table (see table-digest.ts): SHA-256, hex, of its text as the expected-schema
 * file writes it, built here from the same values the other kinds read.
 */
export interface DigestRow {
  oid: number;
  schema: string;
  name: string;
  digest: string;
  /** The byte length of the text the digest is of (the table's slice of the file, when equal). */
  length: number;
  /** How many entries each collection of the table has, in table-slices.ts COUNTED order. */
  counts: number[];
  /** Whether the table has an INVALID index. */
  invalid: boolean;
}

/** Not part of an extension: `alias.oid` is the object, `catalog` its system catalog. */
const notInExtension = (alias: string, catalog: string): string =>
  `NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_catalog.${catalog}'::pg_catalog.regclass AND ext.objid = ${alias}.oid)`;

const COMMON = `
ns AS (SELECT oid, nspname FROM pg_catalog.pg_namespace WHERE nspname = ANY (%SCHEMAS%)),
first_ns AS (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = (%SCHEMAS%)[1]),
ext AS (
  -- Found from the extensions (pg_depend's index on the referenced object), not by reading all
  -- of pg_depend: on 5,000 tables that is a 130,000-row scan, about 20 ms of every run.
  SELECT d.classid, d.objid
  FROM pg_catalog.pg_extension x
  JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
    AND d.refobjid = x.oid AND d.deptype = 'e'
),
rel AS (
  SELECT c.oid, ns.nspname AS schema, c.relname AS relation, c.relkind, c.relrowsecurity,
         c.relforcerowsecurity, c.relispartition, c.relpartbound
  FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace
  WHERE %RELATIONS% AND ${notInExtension('c', 'pg_class')}
)`;

/**
 * A value the query prints, and whether it is text or a boolean: each kind's values are written
 * once, by the name of the row's property, then built into the kind's JSON rows and into the
 * tables' digests alike (in the order written).
 */
interface Value {
  readonly sql: string;
  readonly kind: 'text' | 'bool';
  /** The value's JSON text where the digests print it otherwise than json() does. */
  readonly json?: string;
}
type Values = Readonly<Record<string, Value>>;

const text = (sql: string): Value => ({ sql, kind: 'text' });
const bool = (sql: string): Value => ({ sql, kind: 'bool' });

/**
 * The text `x` (a plain expression: it is evaluated up to three times) as a JSON string: between
 * quotes as it is when it holds no quote and no backslash, else by to_json (whose type lookups per
 * call cost more than the check). Exact for any text but one holding a control character and no
 * quote or backslash: printed raw, that can never equal the file's escaped text, so its table is
 * read in full instead (never vouched for wrongly). A type name holds control characters only in
 * a quoted identifier, that is with quotes.
 */
const quotedUnlessEscaped = (x: string): string =>
  `CASE WHEN pg_catalog.strpos(${x}, '"') = 0 AND pg_catalog.strpos(${x}, E'\\\\') = 0
    THEN '"' || ${x} || '"' ELSE pg_catalog.to_json(${x})::text END`;

/** `sql AS "name", ...`: the values as the columns of a kind's rows. */
const selectList = (values: Values): string =>
  Object.entries(values)
    .map(([name, { sql }]) => `${sql} AS "${name}"`)
    .join(',\n  ');

/** The table's own properties, over `r` (rel), in TableState order (kind is built apart). */
const TABLE_VALUES: Values = {
  partitionKey: text(`CASE WHEN r.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(r.oid) END`),
  partitionOf: text(`CASE WHEN r.relispartition THEN (
    SELECT pn.nspname || '.' || pc.relname
    FROM pg_catalog.pg_inherits i
    JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent
    JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
    WHERE i.inhrelid = r.oid) END`),
  partitionBound: text(
    `CASE WHEN r.relispartition THEN pg_catalog.pg_get_expr(r.relpartbound, r.oid) END`,
  ),
  rls: bool('r.relrowsecurity'),
  rlsForced: bool('r.relforcerowsecurity'),
};

const TABLES = `
SELECT r.schema, r.relation AS name, r.relkind = 'p' AS partitioned, ${selectList(TABLE_VALUES)}
FROM rel r WHERE r.relkind IN ('r', 'p')`;

/**
 * The pg_attrdef expressions of the relation `r`, as `td.nums` (attnums) and `td.exprs` (the
 * expressions, printed), in the same order: one index scan per table, where a lookup per column
 * with a default cost one each (six per table of the benchmark: 3.4% of the digests'
 * instructions). An expression is printed without its table (relid 0) unless it refers to a
 * column (a Var in its node tree: only a generated column's can): that skips building a relcache
 * entry per table, which dominates a cold run on thousands of tables, for the same text.
 */
const TABLE_DEFAULTS = `LATERAL (
  SELECT pg_catalog.array_agg(d.adnum) AS nums,
    pg_catalog.array_agg(pg_catalog.pg_get_expr(d.adbin,
      CASE WHEN pg_catalog.strpos(d.adbin::text, '{VAR ') > 0 THEN d.adrelid ELSE 0 END)) AS exprs
  FROM pg_catalog.pg_attrdef d WHERE d.adrelid = r.oid
) td`;

/** Column `a`'s expression from TABLE_DEFAULTS (`atthasdef`, which generated columns have too). */
const ATTRDEF = `CASE WHEN a.atthasdef THEN td.exprs[pg_catalog.array_position(td.nums, a.attnum)] END`;

/**
 * The column's stored expression (its default, or its generation expression) where `condition`
 * holds. In the digests it comes from the table's columns' read (tableColumns: `a.def_text`), most
 * without to_json (0.8% of a share's instructions at 5,000 tables); one with a control character
 * and no quote or backslash has its table read in full (see quotedUnlessEscaped).
 */
const expressionWhere = (condition: string): Value => ({
  ...text(`CASE WHEN ${condition} THEN ${ATTRDEF} END`),
  json: `COALESCE(CASE WHEN ${condition} THEN ${quotedUnlessEscaped('a.def_text')} END, 'null')`,
});

/** A column, over `a` (pg_attribute) and `td` (TABLE_DEFAULTS), in ColumnRow order. */
const COLUMN_VALUES: Values = {
  name: text('a.attname'),
  type: {
    ...text('pg_catalog.format_type(a.atttypid, a.atttypmod)'),
    // In the digests, from the table's columns' read (tableColumns: `a.type_text`).
    json: `COALESCE(${quotedUnlessEscaped('a.type_text')}, 'null')`,
  },
  nullable: bool('NOT a.attnotnull'),
  default: expressionWhere(`a.attgenerated = ''`),
  identity: text(`CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END`),
  generated: expressionWhere(`a.attgenerated <> ''`),
};

const COLUMNS_OF = `FROM pg_catalog.pg_attribute a
  WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped`;

const COLUMNS = `
SELECT r.schema, r.relation, COALESCE((
  SELECT pg_catalog.json_agg(pg_catalog.json_build_array(${Object.values(COLUMN_VALUES)
    .map(({ sql }) => sql)
    .join(', ')}))
  ${COLUMNS_OF}), '[]') AS columns
FROM rel r, ${TABLE_DEFAULTS}
WHERE r.relkind IN ('r', 'p')`;

/*
 * pg_get_indexdef costs about 25 µs per index on a fresh backend, most of it in finding the
 * default operator class of each column (a scan of all the access method's classes, index after
 * index): the bulk of reading 15,000 indexes. A plain index (columns only, at most
 * PLAIN_MAX_COLUMNS of them, no expression, predicate, INCLUDE, storage options, collation or
 * operator class other than the column's default) has its definition built here instead, word
 * for word as pg_get_indexdef prints it; every other index, and any column this cannot vouch for,
 * falls back to pg_get_indexdef. test/integration/index-definitions.test.ts compares the two on
 * every kind of index.
 *
 * `opcdefault` is the default operator class of a column type for an access method, as
 * GetDefaultOpClass chooses it, where that choice is certain: the class declared DEFAULT for the
 * very type (at most one per type and method); for a base type with none of its own, among the
 * default classes reached by a binary-coercible implicit cast, the one whose type is the preferred
 * type of the column type's category, or else the only one (varchar: text_ops, not bpchar_ops).
 * Methods with a default class for a polymorphic type that any base type could match are left to
 * pg_get_indexdef. So is a class that takes options (an options support function, such as
 * tsvector_ops' siglen): the options of an index column are printed after its class, and only
 * such a class can have them. The options function's number is the access method's own (its
 * amoptsprocnum), known here for the built-in methods only; other methods are left out.
 */
const OPCLASS_DEFAULTS = `
opcdefault AS MATERIALIZED (
  SELECT d.am, d.type, d.opclass FROM (
    SELECT o.opcmethod AS am, o.opcintype AS type, o.oid AS opclass
    FROM pg_catalog.pg_opclass o JOIN pg_catalog.pg_type t ON t.oid = o.opcintype
    WHERE o.opcdefault AND t.typtype <> 'd'
    UNION ALL
    SELECT c.am, c.type, COALESCE(
        CASE WHEN pg_catalog.count(*) FILTER (WHERE c.preferred) = 1
          THEN pg_catalog.min(c.opclass) FILTER (WHERE c.preferred) END,
        CASE WHEN pg_catalog.count(*) = 1 THEN pg_catalog.min(c.opclass) END)
    FROM (
      SELECT o.opcmethod AS am, k.castsource AS type, o.oid AS opclass,
        t.typcategory = s.typcategory AND t.typispreferred AS preferred
      FROM pg_catalog.pg_cast k
      JOIN pg_catalog.pg_opclass o ON o.opcdefault AND o.opcintype = k.casttarget
      JOIN pg_catalog.pg_type t ON t.oid = o.opcintype
      JOIN pg_catalog.pg_type s ON s.oid = k.castsource
      WHERE k.castmethod = 'b' AND k.castcontext = 'i' AND s.typtype = 'b' AND s.typelem = 0
        AND NOT EXISTS (
          SELECT 1 FROM pg_catalog.pg_opclass e
          WHERE e.opcdefault AND e.opcmethod = o.opcmethod
            AND (e.opcintype = k.castsource OR e.opcintype IN (
              'pg_catalog.any'::pg_catalog.regtype, 'pg_catalog.anyelement'::pg_catalog.regtype,
              'pg_catalog.anynonarray'::pg_catalog.regtype, 'pg_catalog.anycompatible'::pg_catalog.regtype,
              'pg_catalog.anycompatiblenonarray'::pg_catalog.regtype)))
    ) c
    GROUP BY c.am, c.type
    HAVING pg_catalog.count(*) FILTER (WHERE c.preferred) = 1 OR pg_catalog.count(*) = 1
  ) d
  JOIN pg_catalog.pg_am m ON m.oid = d.am
  JOIN (VALUES ('btree', 5), ('hash', 3), ('gist', 10), ('gin', 7), ('spgist', 6), ('brin', 5))
    AS optsproc (amname, procnum) ON optsproc.amname = m.amname
  JOIN pg_catalog.pg_opclass oc ON oc.oid = d.opclass
  WHERE NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_amproc p
    WHERE p.amprocfamily = oc.opcfamily AND p.amprocnum = optsproc.procnum)
)`;

/**
 * The columns of the relation `r` as arrays indexed by attnum (a dropped column's name NULL), for
 * the index definitions built here: one index scan per table, where a lookup per index column
 * cost one each. `nums` vouches for the order the arrays were built in (element n is attnum n).
 * With `text` (an aggregate over `a`, the columns in attnum order, dropped ones too), also
 * `tc.text`: the digests print the table's columns from the same scan.
 */
const tableColumns = (text?: string): string => `LATERAL (
  SELECT pg_catalog.array_agg(CASE WHEN NOT a.attisdropped THEN a.attname END) AS names,
    pg_catalog.array_agg(a.atttypid) AS types, pg_catalog.array_agg(a.attcollation) AS colls,
    pg_catalog.array_agg(a.attnum) AS nums${
      text === undefined
        ? ''
        : `,
    ${text} AS text, pg_catalog.count(*) FILTER (WHERE NOT a.attisdropped) AS n`
    }
  FROM (SELECT a.attrelid, a.attname, a.attisdropped, a.atttypid, a.atttypmod, a.attcollation,
          a.attnum, a.attnotnull, a.atthasdef, a.attgenerated, a.attidentity${
            text === undefined
              ? ''
              : `,
          pg_catalog.format_type(a.atttypid, a.atttypmod) AS type_text, ${ATTRDEF} AS def_text`
          }
        FROM pg_catalog.pg_attribute a WHERE a.attrelid = r.oid AND a.attnum > 0
        ORDER BY a.attnum) a
) tc`;

const TABLE_COLUMNS = tableColumns();

/** The OID of the btree access method (fixed, as every built-in access method's). */
const BTREE = 403;

/**
 * The name of the index `ic`'s access method when it is a built-in one, from its fixed OID (a
 * lookup in pg_am per index was an index scan each: 15,000 at 5,000 tables); NULL for any other
 * method, whose indexes are left to pg_get_indexdef (see opcdefault).
 */
const INDEX_METHOD = `CASE ic.relam WHEN ${BTREE} THEN 'btree' WHEN 405 THEN 'hash' WHEN 783 THEN 'gist'
      WHEN 2742 THEN 'gin' WHEN 4000 THEN 'spgist' WHEN 3580 THEN 'brin' END`;

/** The most key columns of an index whose definition is built here (more: pg_get_indexdef). */
const PLAIN_MAX_COLUMNS = 4;

/**
 * Whether key column `i` (from 0) of the index `x` is plain: a column of the table (attnum n,
 * not an expression), its own collation, btree's order options at most, its type's default
 * operator class for the method (see opcdefault).
 */
const plainColumn = (i: number): string => {
  const n = `x.indkey[${i}]`;
  return `(tc.nums[${n}] = ${n} AND tc.names[${n}] IS NOT NULL
      AND (x.indcollation[${i}] = 0 OR x.indcollation[${i}] = tc.colls[${n}])
      AND (x.indoption[${i}] = 0 OR (ic.relam = ${BTREE} AND x.indoption[${i}] BETWEEN 1 AND 3))
      AND (ic.relam, tc.types[${n}], x.indclass[${i}]) IN (SELECT d.am, d.type, d.opclass FROM opcdefault d))`;
};

/** Key column `i` as pg_get_indexdef prints it: its name, then btree's DESC and NULLS options. */
const columnText = (i: number): string =>
  `pg_catalog.quote_ident(tc.names[x.indkey[${i}]]) || CASE x.indoption[${i}] WHEN 0 THEN ''
    WHEN 1 THEN ' DESC NULLS LAST' WHEN 2 THEN ' NULLS FIRST' WHEN 3 THEN ' DESC' END`;

/**
 * A list `a, b, ...` of `count` items (an SQL expression, at most PLAIN_MAX_COLUMNS), the i-th
 * (from 0) printed by `text(i)`; NULL when `count` is out of range or `ok(i)` fails for any item.
 * Unrolled: one expression, no subquery per list.
 */
function unrolledList(
  count: string,
  text: (i: number) => string,
  ok: (i: number) => string,
): string {
  const positions = Array.from({ length: PLAIN_MAX_COLUMNS }, (_, i) => i);
  const oks = positions.map((i) => (i === 0 ? ok(0) : `(${count} <= ${i} OR ${ok(i)})`));
  const texts = positions.map((i) =>
    i === 0 ? text(0) : `CASE WHEN ${count} > ${i} THEN ', ' || ${text(i)} ELSE '' END`,
  );
  return `CASE WHEN ${count} BETWEEN 1 AND ${PLAIN_MAX_COLUMNS} AND ${oks.join('\n    AND ')}
    THEN ${texts.join('\n    || ')} END`;
}

/** The column list of a plain index, or NULL when any column is not plain (see above). */
const PLAIN_COLUMNS = unrolledList('x.indnatts', columnText, plainColumn);

/**
 * Whether the index whose pg_index row is `x` has key columns only (no INCLUDE) and treats nulls
 * as distinct: the condition a plain index definition and a plain key constraint share.
 * indnullsnotdistinct exists from Postgres 15 on.
 */
const keyColumnsOnly = (x: string, serverVersionNum: number): string =>
  `${x}.indnatts = ${x}.indnkeyatts${serverVersionNum >= 150000 ? ` AND NOT ${x}.indnullsnotdistinct` : ''}`;

/**
 * An index, over `x` (pg_index), `ic` (its pg_class row), `r` (its relation) and `tc` (the
 * relation's columns, TABLE_COLUMNS), in IndexRow order (name apart).
 */
const indexValues = (serverVersionNum: number): Values => ({
  definition: text(`COALESCE(CASE WHEN x.indexprs IS NULL AND x.indpred IS NULL
      AND ${keyColumnsOnly('x', serverVersionNum)} AND ic.relkind = 'i' AND ic.reloptions IS NULL
    THEN 'CREATE ' || CASE WHEN x.indisunique THEN 'UNIQUE ' ELSE '' END || 'INDEX '
      || pg_catalog.quote_ident(ic.relname) || ' ON ' || pg_catalog.quote_ident(r.schema) || '.'
      || pg_catalog.quote_ident(r.relation) || ' USING ' || ${INDEX_METHOD}
      || ' (' || ${PLAIN_COLUMNS} || ')' END,
    pg_catalog.pg_get_indexdef(x.indexrelid))`),
  valid: bool('x.indisvalid'),
});

const INDEXES_OF = `FROM pg_catalog.pg_index x
JOIN pg_catalog.pg_class ic ON ic.oid = x.indexrelid
WHERE x.indrelid = r.oid`;

const indexes = (serverVersionNum: number): string => `
SELECT r.schema, r.relation, ic.relname AS name, ${selectList(indexValues(serverVersionNum))}
FROM rel r
CROSS JOIN ${TABLE_COLUMNS}
JOIN pg_catalog.pg_index x ON x.indrelid = r.oid
JOIN pg_catalog.pg_class ic ON ic.oid = x.indexrelid
WHERE r.relkind IN ('r', 'p', 'm')`;

/**
 * A list of key columns as pg_get_constraintdef prints it (`a, b`), from the int2[] `keys`
 * (1-based) and a column's quoted name by attnum; NULL when `vouched` (per attnum) fails for any
 * key, or there are more than PLAIN_MAX_COLUMNS of them.
 */
function keyList(
  keys: string,
  name: (attnum: string) => string,
  vouched: (attnum: string) => string = () => 'true',
): string {
  return unrolledList(
    `pg_catalog.cardinality(${keys})`,
    (i) => name(`${keys}[${i + 1}]`),
    (i) => vouched(`${keys}[${i + 1}]`),
  );
}

/** A column of the constraint's own table, from `tc` (TABLE_COLUMNS) as index definitions use it. */
const ownColumn = (attnum: string): string => `pg_catalog.quote_ident(tc.names[${attnum}])`;
const ownColumnVouched = (attnum: string): string => `tc.nums[${attnum}] = ${attnum}`;

/** A column of the referenced table of the foreign key `k`. */
const referencedColumn = (attnum: string): string =>
  `(SELECT pg_catalog.quote_ident(fa.attname) FROM pg_catalog.pg_attribute fa
    WHERE fa.attrelid = k.confrelid AND fa.attnum = ${attnum} AND NOT fa.attisdropped)`;

/** A foreign key's ON UPDATE or ON DELETE clause, as pg_get_constraintdef prints it. */
const fkAction = (clause: string, action: string): string =>
  `CASE ${action} WHEN 'a' THEN '' WHEN 'r' THEN ' ${clause} RESTRICT' WHEN 'c' THEN ' ${clause} CASCADE'
    WHEN 'n' THEN ' ${clause} SET NULL' WHEN 'd' THEN ' ${clause} SET DEFAULT' END`;

/**
 * Whether the relation `fr` is visible in the search path (the read sets it to the schemas) for
 * the plain reason: it is in the first schema, and nothing searched before that one has its name
 * (pg_catalog, searched first when not listed; no temporary schema on this session).
 * pg_table_is_visible says so too, at the price of two catalog lookups per relation on a fresh
 * backend; it decides every other case. A name that starts with `pg_` (as the name of every
 * relation of pg_catalog does) is probed in pg_class's index on names (a set of pg_catalog's
 * names, hashed once, was a read of every page of pg_class: each is a page fault in a new server
 * process); any other is not, which spares a lookup per foreign key (2% of the digests'
 * instructions at 5,000 tables).
 */
const FIRST_IN_PATH = `(fr.relnamespace = (SELECT f.oid FROM first_ns f)
      AND pg_catalog.pg_my_temp_schema() = 0
      AND (NOT pg_catalog.starts_with(fr.relname::pg_catalog.text, 'pg_')
        OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
          WHERE c.relname = fr.relname AND c.relnamespace = 'pg_catalog'::pg_catalog.regnamespace)))`;

/*
 * pg_get_constraintdef costs about as much per constraint as pg_get_indexdef per index on a
 * fresh backend (the constraint's row read again, each column's name and the referenced table's
 * looked up one by one): a third of reading the keys of 5,000 tables. The usual primary keys,
 * unique constraints and foreign keys (at most PLAIN_MAX_COLUMNS columns; no INCLUDE, NULLS NOT
 * DISTINCT, ON DELETE SET NULL (columns), WITHOUT OVERLAPS or PERIOD, NOT ENFORCED) have their
 * definition built here instead, word for word as pg_get_constraintdef prints it; every other
 * constraint falls back to it. test/integration/constraint-definitions.test.ts compares the two
 * on every kind of constraint. A primary key or unique constraint is plain when its index has no
 * INCLUDE columns and does not treat nulls as equal: read from the index's row, or, given
 * `keyIndexes` (an oid[] of the table's indexes that are so, as the digests have it), looked up in
 * it.
 */
const plainConstraint = (serverVersionNum: number, keyIndexes?: string): string => {
  const ordinary = serverVersionNum >= 180000 ? ' AND NOT k.conperiod AND k.conenforced' : '';
  const noSetColumns = serverVersionNum >= 150000 ? ' AND k.confdelsetcols IS NULL' : '';
  const own = keyList('k.conkey', ownColumn, ownColumnVouched);
  const key = `CASE k.contype WHEN 'p' THEN 'PRIMARY KEY (' ELSE 'UNIQUE (' END || ${own} || ')'`;
  return `CASE
  WHEN k.contype IN ('p', 'u')${ordinary} THEN ${
    keyIndexes === undefined
      ? `(
    SELECT CASE WHEN ${keyColumnsOnly('ci', serverVersionNum)} THEN ${key} END
    FROM pg_catalog.pg_index ci WHERE ci.indexrelid = k.conindid)`
      : `CASE WHEN k.conindid = ANY (${keyIndexes}) THEN ${key} END`
  }
  WHEN k.contype = 'f'${ordinary}${noSetColumns} THEN 'FOREIGN KEY (' || ${own} || ') REFERENCES ' || (
    SELECT CASE WHEN ${FIRST_IN_PATH} OR pg_catalog.pg_table_is_visible(fr.oid)
      THEN pg_catalog.quote_ident(fr.relname)
      ELSE pg_catalog.quote_ident((SELECT fn.nspname FROM pg_catalog.pg_namespace fn
        WHERE fn.oid = fr.relnamespace)) || '.' || pg_catalog.quote_ident(fr.relname) END
    FROM pg_catalog.pg_class fr WHERE fr.oid = k.confrelid)
    || '(' || ${keyList('k.confkey', referencedColumn)} || ')'
    || CASE k.confmatchtype WHEN 's' THEN '' WHEN 'f' THEN ' MATCH FULL' WHEN 'p' THEN ' MATCH PARTIAL' END
    || ${fkAction('ON UPDATE', 'k.confupdtype')} || ${fkAction('ON DELETE', 'k.confdeltype')}
  END
  || CASE WHEN k.condeferrable THEN ' DEFERRABLE' ELSE '' END
  || CASE WHEN k.condeferred THEN ' INITIALLY DEFERRED' ELSE '' END
  || CASE WHEN k.convalidated THEN '' ELSE ' NOT VALID' END`;
};

/**
 * A constraint, over `k` (pg_constraint) and `tc` (its table's columns, TABLE_COLUMNS), in
 * ConstraintRow order (name apart). contype 'n' (NOT NULL, PG 18) is the column's nullability;
 * 't' is a trigger. A foreign key that references a partitioned table gets one internal copy per
 * partition on the same table: skipped.
 */
const constraintValues = (serverVersionNum: number, keyIndexes?: string): Values => ({
  type: {
    ...text(`CASE k.contype WHEN 'p' THEN 'primary key' WHEN 'f' THEN 'foreign key' WHEN 'u' THEN 'unique'
    WHEN 'c' THEN 'check' WHEN 'x' THEN 'exclusion' END`),
    json: `CASE k.contype WHEN 'p' THEN '"primary key"' WHEN 'f' THEN '"foreign key"'
    WHEN 'u' THEN '"unique"' WHEN 'c' THEN '"check"' WHEN 'x' THEN '"exclusion"' ELSE 'null' END`,
  },
  definition: text(
    `COALESCE(${plainConstraint(serverVersionNum, keyIndexes)}, pg_catalog.pg_get_constraintdef(k.oid))`,
  ),
  deferrable: bool('k.condeferrable'),
  deferred: bool('k.condeferred'),
  validated: bool('k.convalidated'),
});

// A constraint with no parent (conparentid 0, nearly all) needs no lookup of one.
const CONSTRAINTS_OF = `FROM pg_catalog.pg_constraint k
WHERE k.conrelid = r.oid AND k.contype IN ('p', 'f', 'u', 'c', 'x')
  AND (k.conparentid = 0 OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint pk
                  WHERE pk.oid = k.conparentid AND pk.conrelid = k.conrelid))`;

const constraints = (serverVersionNum: number): string => `
SELECT r.schema, r.relation, k.conname AS name, ${selectList(constraintValues(serverVersionNum))}
FROM rel r
CROSS JOIN ${TABLE_COLUMNS}
JOIN pg_catalog.pg_constraint k ON k.conrelid = r.oid
WHERE r.relkind IN ('r', 'p') AND k.contype IN ('p', 'f', 'u', 'c', 'x')
  AND (k.conparentid = 0 OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint pk
                  WHERE pk.oid = k.conparentid AND pk.conrelid = k.conrelid))`;

/**
 * The events a trigger fires on as pg_get_triggerdef prints them, by its tgtype's event bits
 * (INSERT 4, DELETE 8, UPDATE 16, TRUNCATE 32) over 4, plus one: `INSERT OR UPDATE`; NULL for
 * none.
 */
const TRIGGER_EVENTS = `(ARRAY[${Array.from({ length: 16 }, (_, bits) => {
  const events = ['INSERT', 'DELETE', 'UPDATE', 'TRUNCATE'].filter((_, i) => bits & (1 << i));
  return events.length === 0 ? 'NULL' : `'${events.join(' OR ')}'`;
}).join(', ')}]::pg_catalog.text[])[(t.tgtype::pg_catalog.int4 & 60) / 4 + 1]`;

/*
 * pg_get_triggerdef was 4.3% of the digests' instructions at 5,000 tables (the trigger's row read
 * again by an index scan, its function's name looked up among every function of that name). A
 * plain trigger (no WHEN, no arguments, no UPDATE OF columns, no transition tables, not a
 * constraint trigger) has its definition built here instead, word for word as pg_get_triggerdef
 * prints it (1.4%), when its function prints as a bare name as regproc: the only function of that
 * name in the search path (the read sets it; pg_catalog searched first), which is then the one a
 * call by that name with no arguments finds, as pg_get_triggerdef checks. A qualified name has a
 * dot; so may a quoted bare one, left to pg_get_triggerdef as every other trigger is.
 * test/integration/trigger-definitions.test.ts compares the two.
 */
const TRIGGER_DEFINITION = `COALESCE(CASE WHEN t.tgconstraint = 0 AND t.tgqual IS NULL
    AND t.tgoldtable IS NULL AND t.tgnewtable IS NULL AND t.tgnargs = 0
    AND pg_catalog.cardinality(t.tgattr::pg_catalog.int2[]) = 0
    AND pg_catalog.strpos(t.tgfoid::pg_catalog.regproc::pg_catalog.text, '.') = 0
  THEN 'CREATE TRIGGER ' || pg_catalog.quote_ident(t.tgname)
    || CASE t.tgtype::pg_catalog.int4 & 66 WHEN 2 THEN ' BEFORE ' WHEN 0 THEN ' AFTER '
      WHEN 64 THEN ' INSTEAD OF ' END || ${TRIGGER_EVENTS}
    || ' ON ' || pg_catalog.quote_ident(r.schema) || '.' || pg_catalog.quote_ident(r.relation)
    || CASE WHEN t.tgtype::pg_catalog.int4 & 1 = 1 THEN ' FOR EACH ROW' ELSE ' FOR EACH STATEMENT' END
    || ' EXECUTE FUNCTION ' || t.tgfoid::pg_catalog.regproc::pg_catalog.text || '()' END,
  pg_catalog.pg_get_triggerdef(t.oid))`;

const TRIGGERS_OF = `FROM pg_catalog.pg_trigger t WHERE t.tgrelid = r.oid AND NOT t.tgisinternal`;

const TRIGGERS = `
SELECT r.schema, r.relation, t.tgname AS name,
  ${TRIGGER_DEFINITION} AS definition, t.tgenabled AS enabled
FROM rel r JOIN pg_catalog.pg_trigger t ON t.tgrelid = r.oid
WHERE NOT t.tgisinternal AND r.relkind IN ('r', 'p', 'v', 'm')`;

/** A policy, over `p` (pg_policy), in PolicyRow order (name and roles apart). */
const POLICY_VALUES: Values = {
  command: text(`CASE p.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert' WHEN 'w' THEN 'update'
    WHEN 'd' THEN 'delete' ELSE 'all' END`),
  permissive: bool('p.polpermissive'),
};
const POLICY_ROLE = `CASE WHEN o = 0 THEN 'public' ELSE pg_catalog.pg_get_userbyid(o)::text END`;
const POLICY_EXPRESSIONS: Values = {
  using: text('pg_catalog.pg_get_expr(p.polqual, p.polrelid)'),
  withCheck: text('pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)'),
};

const POLICIES_OF = `FROM pg_catalog.pg_policy p WHERE p.polrelid = r.oid`;

const POLICIES = `
SELECT r.schema, r.relation, p.polname AS name, ${selectList(POLICY_VALUES)},
  ARRAY(SELECT ${POLICY_ROLE} FROM pg_catalog.unnest(p.polroles) AS o) AS roles,
  ${selectList(POLICY_EXPRESSIONS)}
FROM rel r JOIN pg_catalog.pg_policy p ON p.polrelid = r.oid`;

/** A value as JSON text, as JSON.stringify prints it (`null` for SQL NULL). */
function json({ sql, kind, json: printed }: Value): string {
  if (printed !== undefined) return printed;
  return kind === 'bool'
    ? `COALESCE((${sql})::text, 'null')`
    : `COALESCE(pg_catalog.to_json((${sql})::text)::text, 'null')`;
}

/** A piece of a text built by the server (see concat): an SQL expression, or a literal text. */
type Piece = string | { readonly literal: string };

/** A literal text, as a piece of a concatenation. */
const literal = (text: string): Piece => ({ literal: text });

/** `text` as an SQL string literal (`E'...'` when it holds a line break or a backslash). */
function sqlLiteral(text: string): string {
  const quoted = text.replaceAll("'", "''");
  return /[\n\\]/.test(text)
    ? `E'${quoted.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')}'`
    : `'${quoted}'`;
}

/**
 * The pieces joined by `||`, adjacent literal texts as one SQL literal. Each `||` is a call that
 * copies the text built so far: with the punctuation, the line break and the key of each property
 * as one literal, the digests of 5,000 tables take 7% fewer instructions on the server.
 */
function concat(pieces: readonly Piece[]): string {
  const out: string[] = [];
  let pending: string | undefined;
  for (const piece of pieces) {
    if (typeof piece === 'string') {
      if (pending !== undefined) out.push(sqlLiteral(pending));
      pending = undefined;
      out.push(piece);
    } else pending = (pending ?? '') + piece.literal;
  }
  if (pending !== undefined) out.push(sqlLiteral(pending));
  return out.join(' || ');
}

/** A line break and `depth` levels of the file's 2-space indentation. */
const newline = (depth: number): string => `\n${'  '.repeat(depth)}`;

/**
 * An object printed as JSON.stringify(value, null, 2) prints it at `depth` (its closing brace's
 * indentation level): `{`, each `"key": value` on its own line one level deeper, `}`. The keys
 * are given in the file's order (code-point order) and are plain ASCII.
 */
const jsonObject = (entries: Properties, depth: number): Piece[] => [
  literal('{'),
  ...entries.flatMap(([key, value], i) => [
    literal(`${i > 0 ? ',' : ''}${newline(depth + 1)}"${key}": `),
    value,
  ]),
  literal(`${newline(depth)}}`),
];

/**
 * An aggregate printed as JSON.stringify(value, null, 2) prints a collection at `depth` (its
 * closing bracket's indentation level): `brackets[0]`, the rows' `item`s one level deeper, one
 * per line, in code-point order of `key` (the server's "C" order of UTF-8), `brackets[1]`; only
 * the rows `filter` keeps; the empty collection when none.
 */
const jsonAggregate = (
  brackets: '{}' | '[]',
  item: readonly Piece[],
  key: string,
  depth: number,
  filter?: string,
): string =>
  `COALESCE(${concat([
    literal(`${brackets[0]}${newline(depth + 1)}`),
    `pg_catalog.string_agg(
      ${concat(item)}, ${sqlLiteral(`,${newline(depth + 1)}`)}
      ORDER BY ${key} COLLATE "C")${filter === undefined ? '' : ` FILTER (WHERE ${filter})`}`,
    literal(`${newline(depth)}${brackets[1]}`),
  ])}, '${brackets}')`;

/**
 * The rows as a JSON object at `depth`, keyed by `name`, each value `entry` (printed one level
 * deeper), only the rows `filter` keeps (see jsonAggregate).
 */
const jsonEntriesOf = (
  name: string,
  entry: readonly Piece[],
  depth: number,
  filter = 'true',
): string => jsonAggregate('{}', [jsonName(name), literal(': '), ...entry], name, depth, filter);

/**
 * A name (a column of a catalog: attname, relname, ...) as a JSON string. One that quote_ident
 * leaves as it is (lower-case letters, digits and underscores, not a keyword) has nothing JSON
 * escapes: it is quoted as it is, without to_json's type lookups (1.7% of the digests'
 * instructions at 5,000 tables); any other goes through to_json.
 */
const jsonName = (name: string): string =>
  `CASE WHEN pg_catalog.quote_ident(${name}) = (${name})::text THEN '"' || (${name})::text || '"'
    ELSE pg_catalog.to_json((${name})::text)::text END`;

/** The entries of `from` as a JSON object at `depth` (see jsonEntriesOf). */
const jsonEntries = (name: string, entry: readonly Piece[], from: string, depth: number): string =>
  `(SELECT ${jsonEntriesOf(name, entry, depth)} ${from})`;

/** How the expected-schema file writes a trigger's `enabled`, as JSON text. */
const TRIGGER_ENABLED_JSON = `CASE t.tgenabled WHEN 'O' THEN 'true' WHEN 'D' THEN 'false'
  WHEN 'R' THEN '"replica"' WHEN 'A' THEN '"always"' END`;

/** A policy's roles, sorted, as a JSON array at `depth` (`[]` when none). */
const policyRoles = (depth: number): string =>
  `(SELECT ${jsonAggregate('[]', ['pg_catalog.to_json(q.role)::text'], 'q.role', depth)}
    FROM (SELECT ${POLICY_ROLE} AS role FROM pg_catalog.unnest(p.polroles) AS o) q)`;

/**
 * A property list, `[key, JSON text]` (an SQL expression, or a literal text), in code-point order
 * of the keys (as the file writes them).
 */
type Properties = readonly (readonly [string, Piece])[];

const inFileOrder = (properties: Properties): Properties =>
  [...properties].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** The values of a kind's row but its name, as properties. */
const valuesOf = (values: Values): Properties =>
  Object.entries(values)
    .filter(([key]) => key !== 'name')
    .map(([key, value]) => [key, json(value)] as const);

/** An entry of a collection (its values but the name) at `depth`. */
const jsonEntry = (values: Values, depth: number): Piece[] =>
  jsonObject(inFileOrder(valuesOf(values)), depth);

/** The depth of a table's object in the file: `{ "tables": { "name": {...} } }`. */
const TABLE_DEPTH = 2;

/**
 * A column as an item of the table's `columns` at `depth`: its name, then its values as the file
 * prints them (jsonEntry). Most columns are neither generated nor identity columns: their
 * `generated`, `identity` and `nullable` are then one of two literal texts, so the item is built
 * of six pieces instead of twelve (each `||` a call that copies the text so far: 3% of the
 * digests' instructions at 5,000 tables).
 */
const columnItem = (depth: number): string => {
  const item = (fixed: Readonly<Record<string, Piece>>): string =>
    concat([
      jsonName('a.attname'),
      literal(': '),
      ...jsonObject(
        inFileOrder(valuesOf(COLUMN_VALUES).map(([key, value]) => [key, fixed[key] ?? value])),
        depth,
      ),
    ]);
  const plain = (nullable: boolean): string =>
    item({
      generated: literal('null'),
      identity: literal('null'),
      nullable: literal(`${nullable}`),
    });
  return `CASE WHEN a.attgenerated = '' AND a.attidentity = ''
      THEN CASE WHEN a.attnotnull THEN ${plain(false)} ELSE ${plain(true)} END
      ELSE ${item({})} END`;
};

/**
 * A table's text exactly as the expected-schema file writes it (formatExpectedSchema: 2-space
 * indentation, keys in code-point order, the table's object at TABLE_DEPTH), from the same values
 * the other kinds read; table-digest.ts hashes the same text from the file. The columns, the
 * indexes, the constraints and the triggers are printed by the digests' reads of them (`tc.text`,
 * see tableColumns; `ti.text`, see tableIndexes; `tk.text` and `tt.text`, see tableCollection),
 * which count them too.
 */
const tableText = (): string => {
  const d = TABLE_DEPTH;
  return concat(
    jsonObject(
      inFileOrder([
        ['columns', 'tc.text'],
        ['constraints', 'tk.text'],
        ['indexes', 'ti.text'],
        ['kind', `CASE WHEN r.relkind = 'p' THEN '"partitioned"' ELSE '"table"' END`],
        ...valuesOf(TABLE_VALUES),
        [
          'policies',
          // Most tables have none: one probe of the set of tables that have any (a hashed
          // subplan, built once), where reading each table's was an index scan each (1%).
          `CASE WHEN ${HAS_POLICIES} THEN ${jsonEntries(
            'p.polname',
            jsonObject(
              inFileOrder([
                ...valuesOf(POLICY_VALUES),
                ['roles', policyRoles(d + 3)],
                ...valuesOf(POLICY_EXPRESSIONS),
              ]),
              d + 2,
            ),
            POLICIES_OF,
            d + 1,
          )} ELSE '{}' END`,
        ],
        ['triggers', 'tt.text'],
      ]),
      d,
    ),
  );
};

/** Whether the table `r` has any policy (see tableText). */
const HAS_POLICIES = 'r.oid IN (SELECT p.polrelid FROM pg_catalog.pg_policy p)';

/**
 * A collection of the table `r` as a lateral subquery: `text`, its rows of `from` keyed by `name`
 * as the file prints them (each with `properties`), and `n`, how many there are (TableSlice's
 * counts), from the one scan.
 */
const tableCollection = (
  alias: string,
  name: string,
  properties: Properties,
  from: string,
): string => `LATERAL (
  SELECT ${jsonEntriesOf(name, jsonObject(inFileOrder(properties), TABLE_DEPTH + 2), TABLE_DEPTH + 1)} AS text,
    pg_catalog.count(*) AS n
  ${from}
) ${alias}`;

/** The buckets that the digests' shares (CatalogScope) are made of. */
export const SHARE_BUCKETS = 1024;

/**
 * The indexes of the relation `r` (with `tc`, TABLE_COLUMNS, for their definitions): `ti.text`,
 * their collection as the file prints it, `ti.invalid`, whether any of them is INVALID, and
 * `ti.keys`, those a primary key or unique constraint built here may use (see plainConstraint),
 * from one scan of the table's pg_index rows (the INVALID check and the constraints' index were
 * an index descent each of their own).
 */
const tableIndexes = (serverVersionNum: number): string => `LATERAL (
  SELECT ${jsonEntriesOf(
    'ic.relname',
    jsonEntry(indexValues(serverVersionNum), TABLE_DEPTH + 2),
    TABLE_DEPTH + 1,
  )} AS text,
    COALESCE(pg_catalog.bool_or(NOT x.indisvalid), false) AS invalid, pg_catalog.count(*) AS n,
    pg_catalog.array_agg(x.indexrelid) FILTER (WHERE ${keyColumnsOnly('x', serverVersionNum)}) AS keys
  ${INDEXES_OF}
) ti`;

/** Whether the table whose OID is `oid` has an INVALID index. */
const invalidIndex = (oid: string): string =>
  `EXISTS (SELECT 1 FROM pg_catalog.pg_index x WHERE x.indrelid = ${oid} AND NOT x.indisvalid)`;

/**
 * The digest of every table, or of those the scope names, or of its share (see CatalogScope): the
 * SHA-256 of the table's text as the file writes it (tableText), with that text's length in bytes
 * and its collections' entry counts (DigestRow), so that the file can be taken as that text where
 * it is (table-slices.ts GuidedTables), without a look at its lines.
 */
const digests = (serverVersionNum: number, scope: CatalogScope): string => {
  const named =
    scope.named === undefined
      ? ''
      : `\n        AND (ns.nspname || '.' || c.relname = ANY (${scope.named}) OR ${invalidIndex('c.oid')})`;
  const qualified = `(ns.nspname || '.' || c.relname) COLLATE "C"`;
  // The same bound on the name alone, where the caller knows it (one schema): pg_class is then
  // read by its index on names, only the share's rows, where a sequential scan touched every page
  // (each a page fault in a new server process).
  const byRelname = (op: string, relname: string | undefined): string =>
    relname === undefined ? '' : ` AND c.relname ${op} ${relname}::pg_catalog.name`;
  const share =
    scope.share === undefined
      ? ''
      : 'before' in scope.share
        ? `\n        AND ${qualified} < ${scope.share.before}${byRelname('<', scope.share.relname)}`
        : 'from' in scope.share
          ? `\n        AND ${qualified} >= ${scope.share.from}${byRelname('>=', scope.share.relname)}`
          : `\n        AND pg_catalog.hashint8(c.oid::pg_catalog.int8) & ${SHARE_BUCKETS - 1} BETWEEN ${scope.share[0]} AND ${scope.share[1] - 1}`;
  return `
SELECT r.oid::pg_catalog.int8 AS oid, r.schema, r.relation AS name,
  pg_catalog.encode(pg_catalog.sha256(tx.bytes), 'hex') AS digest,
  pg_catalog.octet_length(tx.bytes) AS length,
  ARRAY[tc.n, tk.n, ti.n, CASE WHEN ${HAS_POLICIES}
    THEN (SELECT pg_catalog.count(*) ${POLICIES_OF}) ELSE 0 END, tt.n] AS counts,
  ti.invalid AS invalid
FROM (SELECT c.oid, ns.nspname AS schema, c.relname AS relation, c.relkind, c.relrowsecurity,
             c.relforcerowsecurity, c.relispartition, c.relpartbound
      FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND ${notInExtension('c', 'pg_class')}${named}${share}) r,
  ${TABLE_DEFAULTS},
  ${tableColumns(jsonAggregate('{}', [columnItem(TABLE_DEPTH + 2)], 'a.attname', TABLE_DEPTH + 1, 'NOT a.attisdropped'))},
  ${tableIndexes(serverVersionNum)},
  ${tableCollection('tk', 'k.conname', valuesOf(constraintValues(serverVersionNum, 'ti.keys')), CONSTRAINTS_OF)},
  ${tableCollection(
    'tt',
    't.tgname',
    [
      ['definition', `pg_catalog.to_json(${TRIGGER_DEFINITION})::text`],
      ['enabled', TRIGGER_ENABLED_JSON],
    ],
    TRIGGERS_OF,
  )},
  LATERAL (SELECT pg_catalog.convert_to(${tableText()}, 'UTF8') AS bytes OFFSET 0) tx`;
};

/**
 * A digest row as one line of text (DigestRow, parsed by digestRows): `oid length digest counts
 * invalid "schema","name"`, the counts comma-separated, invalid `t` or `f`, the names as JSON
 * strings (jsonName: a name JSON escapes nothing of is quoted as it is). The digests come apart
 * from the JSON of the other kinds, as a column of their own: json_agg of their rows cost a
 * share's statement about 11 ms of its 330 at 2,600 tables, and the lines as a string inside the
 * JSON about as much (its escaping).
 */
const DIGEST_LINE = `q.oid || ' ' || q.length || ' ' || q.digest || ' ' ||
  pg_catalog.array_to_string(q.counts, ',') || CASE WHEN q.invalid THEN ' t ' ELSE ' f ' END ||
  ${jsonName('q.schema')} || ',' || ${jsonName('q.name')}`;

/**
 * The rows of the digests' lines (see DIGEST_LINE); none for no text. Each line is read where it
 * is in the text, field by field: the thousands of lines of a share are read once its answer is
 * in, when nothing else runs, and every string and array made for them is garbage to collect.
 */
export function digestRows(text: string | null | undefined): DigestRow[] {
  if (!text) return [];
  const rows: DigestRow[] = [];
  for (let from = 0; from <= text.length;) {
    const end = text.indexOf('\n', from);
    const to = end === -1 ? text.length : end;
    rows.push(digestRow(text, from, to));
    from = to + 1;
  }
  return rows;
}

/** The line of `text` from `from` to `to` as its row (see digestRows). */
function digestRow(text: string, from: number, to: number): DigestRow {
  // The spaces after the five fields before the names.
  const oidEnd = spaceIn(text, from, to);
  const lengthEnd = oidEnd === -1 ? -1 : spaceIn(text, oidEnd + 1, to);
  const digestEnd = lengthEnd === -1 ? -1 : spaceIn(text, lengthEnd + 1, to);
  const countsEnd = digestEnd === -1 ? -1 : spaceIn(text, digestEnd + 1, to);
  const invalidEnd = countsEnd === -1 ? -1 : spaceIn(text, countsEnd + 1, to);
  const invalid = invalidEnd === -1 ? undefined : text.slice(countsEnd + 1, invalidEnd);
  const names = invalid === undefined ? undefined : namesIn(text.slice(invalidEnd + 1, to));
  if ((invalid !== 't' && invalid !== 'f') || !names)
    throw new Error(
      `the catalog query returned a digest line it does not write: ${text.slice(from, to)}`,
    );
  return {
    oid: Number(text.slice(from, oidEnd)),
    schema: names[0],
    name: names[1],
    digest: text.slice(lengthEnd + 1, digestEnd),
    length: Number(text.slice(oidEnd + 1, lengthEnd)),
    counts: countsIn(text, digestEnd + 1, countsEnd),
    invalid: invalid === 't',
  };
}

/** The first space of `text` from `from` on, before `to`; -1 when there is none. */
function spaceIn(text: string, from: number, to: number): number {
  const at = text.indexOf(' ', from);
  return at === -1 || at >= to ? -1 : at;
}

/** The comma-separated counts of a digest line, from `from` to `to` (none when empty). */
function countsIn(text: string, from: number, to: number): number[] {
  const counts: number[] = [];
  if (from === to) return counts;
  for (let at = from; ;) {
    const comma = text.indexOf(',', at);
    const end = comma === -1 || comma > to ? to : comma;
    counts.push(Number(text.slice(at, end)));
    if (end === to) return counts;
    at = end + 1;
  }
}

/** A digest line's `"schema","name"` (two JSON strings); undefined when it is not that. */
function namesIn(text: string): readonly [string, string] | undefined {
  if (!text.startsWith('"') || !text.endsWith('"')) return undefined;
  if (!text.includes('\\')) {
    // Without a backslash neither string holds a quote: the first ends at the one `","`.
    const at = text.indexOf('","');
    const name = text.slice(at + 3, -1);
    return at > 0 && !name.includes('"') ? [text.slice(1, at), name] : undefined;
  }
  try {
    const value: unknown = JSON.parse(`[${text}]`);
    return Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      typeof value[1] === 'string'
      ? [value[0], value[1]]
      : undefined;
  } catch {
    return undefined;
  }
}

const FUNCTIONS = `
SELECT n.nspname AS schema, p.proname AS name, pg_catalog.oidvectortypes(p.proargtypes) AS args,
  CASE p.prokind WHEN 'f' THEN 'function' WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate'
    WHEN 'w' THEN 'window' END AS kind,
  pg_catalog.pg_get_function_result(p.oid) AS returns, l.lanname AS language,
  CASE WHEN p.prokind <> 'a' THEN pg_catalog.pg_get_functiondef(p.oid) END AS definition
FROM pg_catalog.pg_proc p
JOIN ns n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_language l ON l.oid = p.prolang
WHERE ${notInExtension('p', 'pg_proc')}`;

const VIEWS = `
SELECT r.schema, r.relation AS name,
  CASE r.relkind WHEN 'v' THEN 'view' ELSE 'materialized' END AS kind,
  pg_catalog.pg_get_viewdef(r.oid, true) AS definition
FROM rel r WHERE r.relkind IN ('v', 'm')`;

// Sequences behind identity columns (pg_depend deptype 'i') belong to the column, not the schema.
const SEQUENCES = `
SELECT r.schema, r.relation AS name, pg_catalog.format_type(s.seqtypid, NULL) AS type,
  s.seqstart::text AS start, s.seqincrement::text AS increment, s.seqmin::text AS min,
  s.seqmax::text AS max, s.seqcache::text AS cache, s.seqcycle AS cycle
FROM rel r JOIN pg_catalog.pg_sequence s ON s.seqrelid = r.oid
WHERE r.relkind = 'S' AND NOT EXISTS (
  SELECT 1 FROM pg_catalog.pg_depend d
  WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = r.oid AND d.deptype = 'i')`;

const ENUMS = `
SELECT n.nspname AS schema, t.typname AS name,
  ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e
        WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS labels
FROM pg_catalog.pg_type t JOIN ns n ON n.oid = t.typnamespace
WHERE t.typtype = 'e' AND ${notInExtension('t', 'pg_type')}`;

const EXTENSIONS = `
SELECT x.extname AS name, n.nspname AS schema, x.extversion AS version
FROM pg_catalog.pg_extension x JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace`;

type Part = string | ((serverVersionNum: number, scope: CatalogScope) => string);

const PARTS: readonly (readonly [keyof CatalogRows, Part])[] = [
  ['tables', TABLES],
  ['columns', COLUMNS],
  ['indexes', indexes],
  ['constraints', constraints],
  ['triggers', TRIGGERS],
  ['policies', POLICIES],
  ['functions', FUNCTIONS],
  ['views', VIEWS],
  ['sequences', SEQUENCES],
  ['enums', ENUMS],
  ['extensions', EXTENSIONS],
  ['digests', digests],
];

/** Every object kind of a snapshot, in the order of the catalog statement (not the digests). */
export const CATALOG_KINDS: readonly (keyof CatalogRows)[] = PARTS.map(([key]) => key).filter(
  (key) => key !== 'digests',
);

/** What a catalog statement reads besides its kinds. */
export interface CatalogScope {
  /**
   * The relations that the per-relation kinds read: every table, view, materialized view and
   * sequence (`all`, the default), all but the tables (`none`), or only the tables with these OIDs.
   */
  readonly tables?: 'all' | 'none' | readonly number[];
  /**
   * The share of the tables whose digests the digests kind reads, so that two connections can
   * share them: the buckets `[from, to)` of SHARE_BUCKETS, a table's bucket a hash of its OID; or
   * the tables whose qualified names (`schema.name`, in "C" order, the file's) come `before` a
   * name or `from` it on (an escaped text literal), each share one stretch of the file; every
   * table when absent. `relname` (an escaped text literal), when the tables are those of one
   * schema and the name is in it: the name's table part, the same bound on `relname` alone.
   */
  readonly share?:
    | readonly [number, number]
    | { readonly before: string; readonly relname?: string }
    | { readonly from: string; readonly relname?: string };
  /**
   * An escaped `ARRAY[...]::text[]` of qualified table names (`schema.name`): the digests kind
   * reads only those tables, and those with an INVALID index. Every table when absent.
   */
  readonly named?: string;
}

/**
 * The views, materialized views and sequences, found from the catalogs that hold only them (each
 * view's `_RETURN` rule, each sequence's row), then by OID. Read by their kinds, pg_class was read
 * whole: about 900 pages at 5,000 tables, each new to a new server process (page faults), about
 * 20 of the 80 ms that every kind but the tables' cost such a process.
 */
const VIEWS_AND_SEQUENCES = `c.oid IN (
    SELECT s.seqrelid FROM pg_catalog.pg_sequence s
    UNION ALL SELECT w.ev_class FROM pg_catalog.pg_rewrite w WHERE w.rulename = '_RETURN')`;

function relationFilter(tables: CatalogScope['tables'] = 'all'): string {
  if (tables === 'all') return `c.relkind IN ('r', 'p', 'v', 'm', 'S')`;
  if (tables === 'none') return `c.relkind IN ('v', 'm', 'S') AND ${VIEWS_AND_SEQUENCES}`;
  const oids = tables.filter((oid) => Number.isSafeInteger(oid) && oid >= 0);
  return `c.relkind IN ('r', 'p') AND c.oid = ANY ('{${oids.join(',')}}'::pg_catalog.oid[])`;
}

/**
 * The single catalog statement; `schemasArrayLiteral` is an escaped `ARRAY[...]::text[]`, and
 * `serverVersionNum` the server's `server_version_num`. `kinds` restricts it to some object kinds
 * (the others are absent from its result), `scope` to some relations. Its row has `catalog`, the
 * JSON object of the kinds, and with the digests `digests`, their lines (digestRows).
 */
export function catalogQuery(
  schemasArrayLiteral: string,
  serverVersionNum: number,
  kinds: readonly (keyof CatalogRows)[] = CATALOG_KINDS,
  scope: CatalogScope = {},
): string {
  const parts = PARTS.filter(([key]) => key !== 'digests' && kinds.includes(key)).map(
    ([key, part]) => {
      const sql = typeof part === 'string' ? part : part(serverVersionNum, scope);
      return `'${key}', (SELECT COALESCE(pg_catalog.json_agg(q), '[]') FROM (${sql}) q)`;
    },
  );
  const digestLines = kinds.includes('digests')
    ? `,\n(SELECT pg_catalog.string_agg(${DIGEST_LINE}, E'\\n') FROM (${digests(serverVersionNum, scope)}) q) AS digests`
    : '';
  const common = COMMON.replaceAll('%SCHEMAS%', schemasArrayLiteral).replace(
    '%RELATIONS%',
    relationFilter(scope.tables),
  );
  const defaults =
    kinds.includes('indexes') || kinds.includes('digests') ? `,${OPCLASS_DEFAULTS}` : '';
  // As text, parsed by the caller: independent of any type parser set on the client.
  return `WITH ${common}${defaults}\nSELECT pg_catalog.json_build_object(\n${parts.join(',\n')}\n)::text AS catalog${digestLines}`;
}
