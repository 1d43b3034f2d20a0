import pg from 'pg';
import {
  CATALOG_KINDS,
  catalogQuery,
  type CatalogRows,
  type CatalogScope,
  type DigestRow,
  digestRows,
  type TriggerRow,
  SHARE_BUCKETS,
} from './introspect-queries.js';
import { knownServerVersion } from '../connection/server-version.js';
import { readFingerprint } from './fingerprint.js';
import {
  byCodePoint,
  EXPECTED_SCHEMA_VERSION,
  type ExpectedSchema,
  type IndexState,
  type SchemaSnapshot,
  type SequenceExpectation,
  type SequenceState,
  type TableState,
  type TriggerEnabled,
  type TriggerState,
  type ViewState,
} from './types.js';

/**
 * Reads the tables, columns, indexes, constraints, triggers, policies, functions, views,
 * sequences, enums and extensions of `schemas` from pg_catalog in one round trip, whatever the
 * schema's size. Objects that belong to an extension are left out; the result holds no OIDs and
 * is sorted by name. Names are printed with `search_path` set to `schemas` for the duration of
 * the call (restored after), so the output does not depend on the session's settings.
 */
export async function introspectSchema(
  client: pg.ClientBase,
  schemas: readonly string[],
): Promise<SchemaSnapshot> {
  const version = await serverVersionNum(client);
  return assembleSnapshot(schemas, (await readCatalog(client, schemas, version))());
}

/** The kinds read per relation: of the views first, of the tables the digests name. */
const RELATION_KINDS = [
  'tables',
  'columns',
  'indexes',
  'constraints',
  'triggers',
  'policies',
] as const satisfies readonly (keyof CatalogRows)[];

/**
 * A fingerprint the caller took just before the read (a lookup's), with the server's snapshot of
 * transactions in the same statement when known.
 */
export interface Before {
  readonly fingerprint: string;
  readonly snapshot?: string;
}

/** A catalog read for a verification, sent: `finish` completes it (see startDigestRead). */
export interface DigestRead {
  /**
   * The digests of every table read, once every share has answered (rejected as the read failed,
   * which finish then throws too).
   */
  readonly digests: Promise<DigestRow[]>;
  /**
   * The digests by stretch of the file, in file order, each as soon as it is in: the session's
   * share, then the helper's, when they were split by name; else all of them, as `digests`.
   */
  readonly shares: readonly Promise<DigestRow[]>[];
  /**
   * Awaits the digests, reads in full the tables that `plan` (given the digests) names in its
   * `read` (calling `meanwhile` once that read is sent, for work of the caller's while the server
   * reads), and takes the last fingerprint. The snapshot holds those tables and every other
   * object; `fingerprint` is set only when it equals the first, that is when no change committed
   * while the catalog was being read.
   */
  finish<P extends { readonly read: readonly number[] }>(
    plan: (digests: DigestRow[]) => P,
    meanwhile?: (plan: P) => void,
  ): Promise<{ snapshot: SchemaSnapshot; fingerprint: string | undefined; plan: P }>;
}

/**
 * The second connection of a catalog read (see startDigestRead): a client, or one still
 * connecting (undefined once settled when it could not connect), or none.
 */
export type Helper = pg.ClientBase | Promise<pg.ClientBase | undefined> | undefined;

/** The longest name Postgres keeps (NAMEDATALEN - 1 bytes); a longer one is cut when cast. */
const NAME_BYTES = 63;

/**
 * The table part of the qualified name `split` when `schemas` is one schema and `split` is in it:
 * for its tables, `schema.name` comes before `split` in "C" order exactly when `name` comes before
 * that part. Undefined otherwise, and for a part longer than a name can be (a cast would cut it).
 */
export function tablePartIn(schemas: readonly string[], split: string): string | undefined {
  const [schema] = schemas;
  if (schemas.length !== 1 || schema === undefined || !split.startsWith(`${schema}.`)) {
    return undefined;
  }
  const part = split.slice(schema.length + 1);
  return Buffer.byteLength(part) <= NAME_BYTES ? part : undefined;
}

/**
 * Starts the catalog read of a verification, by digest (see table-digest.ts): every table's
 * digest, and every other object kind in full. Resolves once all of it is on the wire, so that
 * the server works while the caller parses the expected-schema file.
 *
 * The catalog fingerprint (fingerprint.ts) is taken before the read and after it. The first is
 * the caller's `before` (from a lookup made right before); without it, the session's snapshot is
 * pinned first (one round trip, in a read-only repeatable-read transaction) and the fingerprint
 * taken in it is older than any read. With a `helper` (a second connection, opened by the
 * caller), the session and the helper share the tables' digests: two server processes for the
 * catalog of thousands of tables. With `splitAt` (a qualified name), the session's share is the
 * tables whose names come before it (in the file's order), the helper's the rest, so that each is
 * one stretch of the file (`shares`); without, a share is a set of buckets of a hash of the
 * tables' OIDs (the session's a third when it takes the first fingerprint, else 27/64). The
 * session's share does not wait for a helper still connecting, and the session reads the helper's
 * share too when it could not connect. `only` (qualified names) limits the
 * digests to those tables and the ones with an INVALID index. Without `fingerprinted` (nothing
 * will be recorded) no fingerprint is taken, and none is returned. The last fingerprint is taken
 * once every read is done, so that equal fingerprints vouch for all of them; it is not taken at
 * all when no transaction committed since the first was (see unchangedSince): the first's
 * snapshot is the pinned one, or the one `before` carries.
 */
export async function startDigestRead(
  client: pg.ClientBase,
  schemas: readonly string[],
  before: Before | undefined,
  helper: Helper,
  only?: readonly string[],
  fingerprinted = true,
  splitAt?: string,
): Promise<DigestRead> {
  // Known to preflight's session without a wait: the pin goes out before the caller parses.
  const version = knownServerVersion(client) ?? (await serverVersionNum(client));
  // Not fingerprinted: no pin, nothing taken before or after ('' agrees with nothing).
  const pinned = fingerprinted && before === undefined ? await pinSnapshot(client) : undefined;
  // The snapshot the first fingerprint was taken in, when known.
  const since = pinned ?? before?.snapshot;
  // On a pipelined session these go out together: fingerprint, first read, end of transaction.
  const first =
    pinned === undefined ? Promise.resolve(before?.fingerprint ?? '') : readFingerprint(client);
  // By OID hash, the session's share of the digests: 27/64, so that it ends first (it also reads
  // every other kind); a third when it takes the fingerprint first (about half as long as its
  // share's read, at 5,000 tables).
  const split = pinned === undefined ? (SHARE_BUCKETS * 27) / 64 : Math.round(SHARE_BUCKETS / 3);
  // By name, when the caller says where the helper's share starts: each share one stretch of the
  // file, in file order (see DigestRead's shares).
  const byName = splitAt === undefined ? undefined : client.escapeLiteral(splitAt);
  const relname = splitAt === undefined ? undefined : tablePartIn(schemas, splitAt);
  const bound = relname === undefined ? {} : { relname: client.escapeLiteral(relname) };
  const shares: readonly [CatalogScope['share'], CatalogScope['share']] =
    byName === undefined
      ? [
          [0, split],
          [split, SHARE_BUCKETS],
        ]
      : [
          { before: byName, ...bound },
          { from: byName, ...bound },
        ];
  // Every kind but the tables' (of the views: their indexes and triggers), and digests.
  const main = readCatalog(
    client,
    schemas,
    version,
    [...CATALOG_KINDS, 'digests'],
    { tables: 'none', ...(helper ? { share: shares[0] } : {}) },
    only,
  );
  // COMMIT of a transaction that failed rolls it back: the session is left clean either way.
  const ended = pinned === undefined ? Promise.resolve() : client.query('COMMIT');
  // Awaited with the rest by finish; a failure while the helper connects is not unhandled.
  for (const sent of [first, main, ended]) sent.catch(() => undefined);
  // The helper's share, once it has connected (the session's is on its way meanwhile); on the
  // session, behind its own, when the helper could not connect. Awaited here: this resolves once
  // every statement is on the wire, before the caller's work holds the event loop.
  const readBy = await Promise.resolve(helper).catch(() => undefined);
  const side = helper
    ? readCatalog(
        readBy ?? client,
        schemas,
        version,
        ['digests'],
        { tables: 'none', share: shares[1] },
        only,
      )
    : undefined;
  // Awaited by finish; until then a failure must not count as unhandled.
  const reads = Promise.all([first, main, side]).finally(() => ended.catch(() => undefined));
  reads.catch(() => undefined);
  const digests = reads.then(([, mainRows, sideRows]) => [
    ...mainRows().digests,
    ...(sideRows?.().digests ?? []),
  ]);
  digests.catch(() => undefined);
  const stretches =
    side && byName !== undefined
      ? [main, side].map((share) => share.then((rows) => rows().digests))
      : [digests];
  for (const stretch of stretches) stretch.catch(() => undefined);
  return {
    digests,
    shares: stretches,
    async finish(planned, meanwhile) {
      const [taken, mainRows] = await reads;
      const rows = mainRows();
      const plan = planned(await digests);
      const { read } = plan;
      const tables =
        read.length > 0
          ? readCatalog(client, schemas, version, RELATION_KINDS, { tables: read })
          : undefined;
      // Awaited below: a failure of meanwhile must not leave the read's unhandled.
      tables?.catch(() => undefined);
      meanwhile?.(plan);
      const after = !fingerprinted
        ? ''
        : since !== undefined && (await unchangedSince(client, since))
          ? taken
          : await readFingerprint(client);
      const tableRows = (await tables)?.();
      if (tableRows) for (const kind of RELATION_KINDS) concat(rows, tableRows, kind);
      const snapshot = assembleSnapshot(schemas, rows);
      return { snapshot, fingerprint: agreed([taken, after]), plan };
    },
  };
}

/** Appends `from`'s rows of `kind` to `into`'s. */
function concat<K extends keyof CatalogRows>(into: CatalogRows, from: CatalogRows, kind: K): void {
  const rows = into[kind] as unknown[];
  for (const row of from[kind] as unknown[]) rows.push(row);
}

const CURRENT_SNAPSHOT = 'SELECT pg_catalog.pg_current_snapshot()::text AS snapshot';

/**
 * Opens a read-only repeatable-read transaction (ended by the caller's COMMIT) and takes its
 * snapshot now; returns it as `xmin:xmax:in-progress`. A failure leaves the session out of the
 * transaction.
 */
async function pinSnapshot(client: pg.ClientBase): Promise<string> {
  try {
    const results: unknown = await client.query(
      `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; ${CURRENT_SNAPSHOT}`,
    );
    const [, taken] = Array.isArray(results) ? (results as pg.QueryResult[]) : [];
    const snapshot = (taken?.rows[0] as { snapshot?: string } | undefined)?.snapshot;
    if (snapshot === undefined) throw new Error('the snapshot query returned no row');
    return snapshot;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Whether no transaction committed since the snapshot `pinned`: the server's snapshot is the same
 * (no transaction id assigned since, none of those then in progress ended). Every change of the
 * catalog that the fingerprint sees is a committed transaction with an id, so the fingerprint is
 * then the one taken in `pinned`, without reading it again (about 60 ms at 5,000 tables). A busy
 * server (any write anywhere in the cluster) simply takes it again.
 */
async function unchangedSince(client: pg.ClientBase, pinned: string): Promise<boolean> {
  const { rows } = await client.query<{ snapshot: string }>(CURRENT_SNAPSHOT);
  return rows[0]?.snapshot === pinned;
}

/** The fingerprint when all those taken are equal (no change committed between them). */
function agreed(taken: readonly string[]): string | undefined {
  const [first] = taken;
  return first !== undefined && first !== '' && taken.every((value) => value === first)
    ? first
    : undefined;
}

/**
 * The settings that decide how constants and names print (a default's timestamp, date,
 * interval, float, bytea, money or backslashed text value; a partition's bounds; a constant in a
 * predicate, a check or a view; every name, quoted or not), at their defaults but TimeZone (UTC):
 * the server's, the database's or the role's own values would otherwise make the same catalog
 * print differently where the file was written and where it is verified (initdb takes the
 * machine's time zone and locale).
 */
const PRINTING: readonly (readonly [string, string])[] = [
  ['TimeZone', 'UTC'],
  ['DateStyle', 'ISO, MDY'],
  ['IntervalStyle', 'postgres'],
  ['extra_float_digits', '1'],
  ['bytea_output', 'hex'],
  ['lc_monetary', 'C'],
  ['standard_conforming_strings', 'on'],
  ['quote_all_identifiers', 'off'],
];

/**
 * Settings changed for the catalog query. The search path: the file's schemas (names print
 * qualified outside them). The printing settings (PRINTING). JIT: compiling it costs more than it
 * saves. Bitmap scans: the planner picks them for the per-table lookups into pg_index and
 * pg_trigger, and each of the thousands of rescans asks the kernel for the catalog's size; index
 * scans do not.
 */
const SETTINGS = [
  'search_path',
  ...PRINTING.map(([name]) => name),
  'jit',
  'enable_bitmapscan',
] as const;
const PRINTING_SET = PRINTING.map(
  ([name, value]) => `pg_catalog.set_config('${name}', '${value}', true)`,
).join(', ');
const SAVE_SETTINGS = SETTINGS.map(
  (name) =>
    `pg_catalog.set_config('preflight.${name}', pg_catalog.current_setting('${name}'), true)`,
).join(', ');
const RESTORE_SETTINGS = SETTINGS.map(
  (name) =>
    `pg_catalog.set_config('${name}', pg_catalog.current_setting('preflight.${name}'), true)`,
).join(', ');

/**
 * The server's `server_version_num`, as preflight's session recorded it when it opened; asked
 * otherwise (a client opened elsewhere).
 */
async function serverVersionNum(client: pg.ClientBase): Promise<number> {
  const recorded = knownServerVersion(client);
  if (recorded !== undefined) return recorded;
  const { rows } = await client.query<{ version: string }>(
    "SELECT pg_catalog.current_setting('server_version_num') AS version",
  );
  return Number(rows[0]?.version ?? 0);
}

/**
 * Sends the catalog statement of `kinds` within `scope`, its digests limited to the tables `only`
 * names (see CatalogScope.named); the rows are parsed when asked (the caller may first send what
 * the server can do meanwhile).
 */
async function readCatalog(
  client: pg.ClientBase,
  schemas: readonly string[],
  version: number,
  kinds: readonly (keyof CatalogRows)[] = CATALOG_KINDS,
  scope: CatalogScope = {},
  only?: readonly string[],
): Promise<() => CatalogRows> {
  const array = (texts: readonly string[]): string =>
    `ARRAY[${texts.map((s) => client.escapeLiteral(s)).join(', ')}]::text[]`;
  const literal = array(schemas);
  if (only) scope = { ...scope, named: array(only) };
  const searchPath = client.escapeLiteral(
    schemas.map((s) => client.escapeIdentifier(s)).join(', '),
  );
  // One simple-protocol string: an implicit transaction, so an error also undoes the settings;
  // inside a caller's transaction the last statement puts them back.
  const text = [
    `SELECT ${SAVE_SETTINGS}`,
    `SELECT pg_catalog.set_config('search_path', ${searchPath}, true), ${PRINTING_SET}, pg_catalog.set_config('jit', 'off', true), pg_catalog.set_config('enable_bitmapscan', 'off', true)`,
    catalogQuery(literal, version, kinds, scope),
    `SELECT ${RESTORE_SETTINGS}`,
  ].join(';\n');
  const results: unknown = await client.query(text);
  const all = Array.isArray(results) ? (results as pg.QueryResult[]) : [];
  const row = all[2]?.rows[0] as { catalog: string; digests?: string | null } | undefined;
  if (!row) throw new Error('catalog query returned no result');
  const { catalog, digests } = row;
  let rows: CatalogRows | undefined;
  return () => (rows ??= { ...(JSON.parse(catalog) as CatalogRows), digests: digestRows(digests) });
}

const TRIGGER_ENABLED: Record<TriggerRow['enabled'], TriggerEnabled> = {
  O: true,
  D: false,
  R: 'replica',
  A: 'always',
};

/** Builds the keyed snapshot from the flat catalog rows (already sorted by name). */
function assembleSnapshot(schemas: readonly string[], rows: CatalogRows): SchemaSnapshot {
  const tables = assembleTables(rows);
  const views: Record<string, ViewState> = {};
  for (const { schema, name, kind, definition } of rows.views) {
    views[`${schema}.${name}`] = { kind, definition, indexes: {}, triggers: {} };
  }
  const ownerOf = (schema: string, relation: string): TableState | ViewState | undefined =>
    tables[`${schema}.${relation}`] ?? views[`${schema}.${relation}`];
  for (const { schema, relation, name, definition, valid } of rows.indexes) {
    const index: IndexState = { definition, valid };
    const owner = ownerOf(schema, relation);
    if (owner) owner.indexes[name] = index;
  }
  for (const { schema, relation, name, definition, enabled } of rows.triggers) {
    const trigger: TriggerState = { definition, enabled: TRIGGER_ENABLED[enabled] };
    const owner = ownerOf(schema, relation);
    if (owner) owner.triggers[name] = trigger;
  }
  const snapshot: SchemaSnapshot = {
    schemas: [...schemas],
    tables,
    functions: {},
    views,
    sequences: {},
    enums: {},
    extensions: {},
  };
  for (const { schema, name, args, ...fn } of rows.functions) {
    snapshot.functions[`${schema}.${name}(${args})`] = fn;
  }
  for (const { schema, name, ...sequence } of rows.sequences) {
    snapshot.sequences[`${schema}.${name}`] = sequence;
  }
  for (const { schema, name, labels } of rows.enums)
    snapshot.enums[`${schema}.${name}`] = { labels };
  for (const { name, schema, version } of rows.extensions) {
    snapshot.extensions[name] = { schema, version };
  }
  return snapshot;
}

function assembleTables(rows: CatalogRows): Record<string, TableState> {
  const tables: Record<string, TableState> = {};
  for (const t of rows.tables) {
    tables[`${t.schema}.${t.name}`] = {
      kind: t.partitioned ? 'partitioned' : 'table',
      partitionKey: t.partitionKey,
      partitionOf: t.partitionOf,
      partitionBound: t.partitionBound,
      rls: t.rls,
      rlsForced: t.rlsForced,
      columns: {},
      indexes: {},
      constraints: {},
      triggers: {},
      policies: {},
    };
  }
  const tableOf = (row: { schema: string; relation: string }): TableState | undefined =>
    tables[`${row.schema}.${row.relation}`];
  for (const { schema, relation, columns } of rows.columns) {
    const table = tableOf({ schema, relation });
    if (!table) continue;
    for (const [name, type, nullable, value, identity, generated] of columns) {
      table.columns[name] = { type, nullable, default: value, identity, generated };
    }
  }
  for (const { schema, relation, name, ...constraint } of rows.constraints) {
    const table = tableOf({ schema, relation });
    if (table) table.constraints[name] = constraint;
  }
  for (const { schema, relation, name, roles, ...policy } of rows.policies) {
    const table = tableOf({ schema, relation });
    if (table) table.policies[name] = { ...policy, roles: [...roles].sort(byCodePoint) };
  }
  return tables;
}

/** The exhaustive expected-schema file for a snapshot (`preflight snapshot` writes it). */
export function snapshotToExpected(snapshot: SchemaSnapshot): ExpectedSchema {
  // A JSON round trip: a deep copy that V8 makes much faster than structuredClone.
  const copy = JSON.parse(JSON.stringify(snapshot)) as SchemaSnapshot;
  const sequences: Record<string, SequenceExpectation> = {};
  for (const [name, sequence] of Object.entries(copy.sequences)) {
    sequences[name] = readableSequence(sequence);
  }
  const extensions: Record<string, { schema: string }> = {};
  // Versions change with server upgrades; a file that wants to pin one can add it by hand.
  for (const [name, { schema }] of Object.entries(copy.extensions)) extensions[name] = { schema };
  return {
    version: EXPECTED_SCHEMA_VERSION,
    exhaustive: true,
    schemas: copy.schemas,
    tables: copy.tables,
    functions: copy.functions,
    views: copy.views,
    sequences,
    enums: copy.enums,
    extensions,
  };
}

/** Sequence numbers as JSON numbers where that is exact, as strings where it is not. */
function readableSequence(sequence: SequenceState): SequenceExpectation {
  const number = (value: string): number | string =>
    Number.isSafeInteger(Number(value)) ? Number(value) : value;
  return {
    type: sequence.type,
    start: number(sequence.start),
    increment: number(sequence.increment),
    min: number(sequence.min),
    max: number(sequence.max),
    cache: number(sequence.cache),
    cycle: sequence.cycle,
  };
}
