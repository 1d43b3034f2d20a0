import { sha256 } from '../migrations/checksum.js';
import { DIGEST_PARTS, type DigestPart, type DigestRow } from './introspect-queries.js';
import {
  byCodePoint,
  isNameList,
  namedRecord,
  type ColumnExpectation,
  type ConstraintExpectation,
  type ExpectedSchema,
  type IndexExpectation,
  type Named,
  type PolicyExpectation,
  type TableExpectation,
  type TriggerExpectation,
} from './types.js';

/*
 * Table digests: the shortcut of a full verification at scale. The catalog query prints each
 * table's canonical text and hashes it on the server (introspect-queries.ts); the same text is
 * built here from the expected table. Equal digests mean equal tables, so compare would find
 * nothing there: only the tables whose digests differ, or that one side lacks, are read in full
 * and compared. A table that the file describes partly (a property or a collection left out,
 * names only) has no digest here, and is always read and compared.
 *
 * A table has two digests, one per part (read on two connections at scale): the canonical text
 * of its `shape` is the JSON array `[kind, partitionKey, partitionOf, partitionBound, rls,
 * rlsForced, columns, triggers, policies]`, that of its `keys` `[indexes, constraints]`; each
 * collection an array of `[name, ...properties]` in code-point order of the names (the server's
 * "C" order of UTF-8), as JSON.stringify prints it. Columns, triggers, indexes and constraints
 * have their booleans as texts (`"true"`, `"false"`): the server prints those rows as arrays of
 * texts (introspect-queries.ts); policies keep their JSON types. A name whose order differs
 * between the two (characters beyond U+FFFF next to ones from U+E000) only makes its table read
 * in full.
 */

/** An entry's row: `[name, ...properties]`, or undefined when a property is left out. */
type ToRow<T> = (name: string, entry: T) => unknown[] | undefined;

const complete = (row: unknown[]): unknown[] | undefined =>
  row.includes(undefined) ? undefined : row;

/** A value as the canonical text writes it in columns, triggers, indexes and constraints. */
const asText = (value: unknown): unknown => (typeof value === 'boolean' ? String(value) : value);

// Each property read by name (not in a loop over names): this runs for every column of the file.
const column: ToRow<ColumnExpectation> = (name, c) =>
  complete([name, c.type, asText(c.nullable), c.default, c.identity, c.generated]);
// An INVALID index has no row: compare reports every INVALID index, so its table is always read.
const index: ToRow<IndexExpectation> = (name, i) =>
  i.valid === true ? complete([name, i.definition, 'true']) : undefined;
const constraint: ToRow<ConstraintExpectation> = (name, k) =>
  complete([
    name,
    k.type,
    k.definition,
    asText(k.deferrable),
    asText(k.deferred),
    asText(k.validated),
  ]);
const trigger: ToRow<TriggerExpectation> = (name, t) =>
  complete([name, t.definition, asText(t.enabled)]);
const policy: ToRow<PolicyExpectation> = (name, p) =>
  complete([
    name,
    p.command,
    p.permissive,
    p.roles && [...p.roles].sort(byCodePoint),
    p.using,
    p.withCheck,
  ]);

/** The rows of a collection, sorted by name; undefined when it is absent, names only, or partial. */
function rows<T>(collection: Named<T> | undefined, toRow: ToRow<T>): unknown[][] | undefined {
  if (collection === undefined || isNameList(collection)) return undefined;
  const entries = collection as Readonly<Record<string, T>>;
  const out: unknown[][] = [];
  for (const name of Object.keys(entries).sort(byCodePoint)) {
    const row = toRow(name, entries[name] as T);
    if (row === undefined) return undefined;
    out.push(row);
  }
  return out;
}

/** A text per part of a table: its canonical texts, or their digests. */
type PerPart = Readonly<Record<DigestPart, string>>;

/** A table's digest per part. */
export type TableDigests = PerPart;

/**
 * The canonical texts of an expected table's parts; undefined when the file does not describe it
 * whole, or lists an INVALID index (then the table is always read).
 */
export function canonicalTableTexts(t: TableExpectation): PerPart | undefined {
  const scalars = complete([
    t.kind,
    t.partitionKey,
    t.partitionOf,
    t.partitionBound,
    t.rls,
    t.rlsForced,
  ]);
  const shape = [rows(t.columns, column), rows(t.triggers, trigger), rows(t.policies, policy)];
  const keys = [rows(t.indexes, index), rows(t.constraints, constraint)];
  if (scalars === undefined || shape.includes(undefined) || keys.includes(undefined))
    return undefined;
  return { shape: JSON.stringify([...scalars, ...shape]), keys: JSON.stringify(keys) };
}

/** The digests of the tables a file describes whole, by qualified name. */
export function expectedTableDigests(expected: ExpectedSchema): Map<string, TableDigests> {
  const digests = new Map<string, TableDigests>();
  if (expected.tables === undefined || isNameList(expected.tables)) return digests;
  for (const [name, table] of Object.entries(expected.tables)) {
    const texts = canonicalTableTexts(table);
    if (texts !== undefined)
      digests.set(name, { shape: sha256(texts.shape), keys: sha256(texts.keys) });
  }
  return digests;
}

/** A table as the server's digest rows describe it. */
interface ActualTable {
  readonly name: string;
  readonly digests: Partial<Record<DigestPart, string>>;
  invalid: boolean;
}

/** What a full verification reads in full once the digests are in, and what it then compares. */
export interface DigestPlan {
  /** The OIDs of the tables to read in full: every table without an equal digest on both sides. */
  readonly read: number[];
  /** The file without the tables that the digests vouch for (compare would find nothing there). */
  readonly expected: ExpectedSchema;
  /** How many tables the digests vouch for. */
  readonly vouched: number;
}

/**
 * The tables compare looks at, by qualified name: those the file lists; every one (undefined)
 * when the file is exhaustive; none when it leaves `tables` out.
 */
export function comparedTables(expected: ExpectedSchema): readonly string[] | undefined {
  if (expected.tables === undefined) return [];
  return expected.exhaustive === true ? undefined : Object.keys(namedRecord(expected.tables));
}

/**
 * Splits the tables by digest. A table is read in full when compare would look at it and the
 * digests do not vouch for it (every part's digest equal to the file's): compare looks at the
 * tables the file lists, and at every other one too when the file is exhaustive, but at none when
 * it leaves `tables` out. A table with an INVALID index is always read (compare reports every
 * one); `ignored` names (preflight's own tables, left out of every comparison) never are.
 */
export function planByDigest(
  expected: ExpectedSchema,
  expectedDigests: ReadonlyMap<string, TableDigests>,
  actual: readonly DigestRow[],
  ignored: (name: string) => boolean,
): DigestPlan {
  const byTable = new Map<number, ActualTable>();
  for (const row of actual) {
    if (ignored(row.name)) continue;
    let table = byTable.get(row.oid);
    if (!table) {
      table = { name: `${row.schema}.${row.name}`, digests: {}, invalid: false };
      byTable.set(row.oid, table);
    }
    table.digests[row.part] = row.digest;
    table.invalid ||= row.invalid;
  }
  const listed = namedRecord(expected.tables);
  const only = comparedTables(expected);
  const compared = (name: string): boolean => only === undefined || Object.hasOwn(listed, name);
  const vouched = new Set<string>();
  const read: number[] = [];
  for (const [oid, { name, digests, invalid }] of byTable) {
    if (!invalid && !compared(name)) continue;
    const want = expectedDigests.get(name);
    if (!invalid && want && DIGEST_PARTS.every((part) => digests[part] === want[part]))
      vouched.add(name);
    else read.push(oid);
  }
  if (vouched.size === 0) return { read, expected, vouched: 0 };
  const tables: Record<string, TableExpectation> = {};
  for (const [name, table] of Object.entries(listed)) {
    if (!vouched.has(name)) tables[name] = table;
  }
  return { read, expected: { ...expected, tables }, vouched: vouched.size };
}
