import { sha256 } from '../migrations/checksum.js';
import { sortKeys } from './expected-file.js';
import type { DigestRow } from './introspect-queries.js';
import { isNameList, namedRecord, type ExpectedSchema, type TableExpectation } from './types.js';

/*
 * Table digests: the shortcut of a full verification at scale. The catalog query prints each
 * table's text exactly as the expected-schema file writes it (formatExpectedSchema: 2-space
 * indentation, keys in code-point order) and hashes it on the server (introspect-queries.ts);
 * here the same text is hashed from the file, straight from its bytes where the file is laid out
 * as snapshot writes it (table-slices.ts), else printed from the parsed table. Equal digests mean
 * equal tables, so compare would find nothing there: only the tables whose digests differ, or
 * that one side lacks, are read in full and compared. A table that the file writes otherwise (a
 * property or a collection left out, names only, keys in another order, other spacing) simply has
 * another digest, and is read and compared.
 */

/** The depth of a table's object in the file: `{ "tables": { "name": {...} } }`. */
const TABLE_INDENT = '\n    ';

/** An expected table's text as the file writes it, at its depth in the file. */
export function tableText(table: TableExpectation): string {
  return JSON.stringify(sortKeys(table), null, 2).replaceAll('\n', TABLE_INDENT);
}

/** The digests of the tables of a parsed file, by qualified name. */
export function expectedTableDigests(expected: ExpectedSchema): Map<string, string> {
  const digests = new Map<string, string>();
  if (expected.tables === undefined || isNameList(expected.tables)) return digests;
  for (const [name, table] of Object.entries(expected.tables))
    digests.set(name, sha256(tableText(table)));
  return digests;
}

/** What a full verification reads in full once the digests are in. */
export interface DigestVouching {
  /** The OIDs of the tables to read in full: every table compared without an equal digest. */
  readonly read: number[];
  /** The tables (qualified names) whose digests are equal on both sides. */
  readonly vouched: ReadonlySet<string>;
}

/** What a full verification reads in full, and what it then compares. */
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
 * Splits the tables by digest. A table is read in full when `compared` says compare looks at it
 * and the digests do not vouch for it. A table with an INVALID index is always read (compare
 * reports every one); `ignored` names (preflight's own tables, left out of every comparison)
 * never are.
 */
export function vouchByDigest(
  expectedDigests: ReadonlyMap<string, string>,
  actual: readonly DigestRow[],
  ignored: (name: string) => boolean,
  compared: (name: string) => boolean = () => true,
): DigestVouching {
  const vouched = new Set<string>();
  const read: number[] = [];
  for (let i = 0; i < actual.length; i++) {
    const { oid, schema, name, digest, invalid } = actual[i] as DigestRow;
    if (ignored(name)) continue;
    const qualified = `${schema}.${name}`;
    if (!invalid && !compared(qualified)) continue;
    if (!invalid && expectedDigests.get(qualified) === digest) vouched.add(qualified);
    else read.push(oid);
  }
  return { read, vouched };
}

/**
 * vouchByDigest for a parsed file: compare looks at the tables the file lists, and at every other
 * one too when the file is exhaustive, but at none when it leaves `tables` out.
 */
export function planByDigest(
  expected: ExpectedSchema,
  expectedDigests: ReadonlyMap<string, string>,
  actual: readonly DigestRow[],
  ignored: (name: string) => boolean,
): DigestPlan {
  const listed = namedRecord(expected.tables);
  const only = comparedTables(expected);
  const { read, vouched } = vouchByDigest(
    expectedDigests,
    actual,
    ignored,
    (name) => only === undefined || Object.hasOwn(listed, name),
  );
  return { read, expected: withoutTables(expected, vouched), vouched: vouched.size };
}

/** The file without the tables `names`. */
export function withoutTables(
  expected: ExpectedSchema,
  names: ReadonlySet<string>,
): ExpectedSchema {
  if (names.size === 0) return expected;
  const tables: Record<string, TableExpectation> = {};
  for (const [name, table] of Object.entries(namedRecord(expected.tables))) {
    if (!names.has(name)) tables[name] = table;
  }
  return { ...expected, tables };
}
