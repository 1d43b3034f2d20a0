import { sha256 } from '../migrations/checksum.js';
import type { DigestRow } from './introspect-queries.js';
import {
  byCodePoint,
  isNameList,
  namedRecord,
  type ExpectedSchema,
  type Named,
  type TableExpectation,
} from './types.js';

/*
 * Table digests: the shortcut of a full verification at scale. The catalog query prints each
 * table's canonical text and hashes it on the server (introspect-queries.ts); the same text is
 * built here from the expected table. Equal digests mean equal tables, so compare would find
 * nothing there: only the tables whose digests differ, or that one side lacks, are read in full
 * and compared. A table that the file describes partly (a property or a collection left out,
 * names only) has no digest here, and is always read and compared.
 *
 * The canonical text is the JSON array `[kind, partitionKey, partitionOf, partitionBound, rls,
 * rlsForced, columns, indexes, constraints, triggers, policies]`, each collection an array of
 * `[name, ...properties]` in code-point order of the names (the server's "C" order of UTF-8),
 * as JSON.stringify prints it.
 */

const COLUMN = ['type', 'nullable', 'default', 'identity', 'generated'] as const;
const INDEX = ['definition', 'valid'] as const;
const CONSTRAINT = ['type', 'definition', 'deferrable', 'deferred', 'validated'] as const;
const TRIGGER = ['definition', 'enabled'] as const;
const POLICY = ['command', 'permissive', 'roles', 'using', 'withCheck'] as const;
const TABLE = [
  'kind',
  'partitionKey',
  'partitionOf',
  'partitionBound',
  'rls',
  'rlsForced',
] as const;

/** `[name, ...props]` per entry, sorted by name; undefined when a prop or the collection is absent. */
function rows(
  collection: Named<object> | undefined,
  props: readonly string[],
): unknown[][] | undefined {
  if (collection === undefined || isNameList(collection)) return undefined;
  const names = Object.keys(collection).sort(byCodePoint);
  const out: unknown[][] = [];
  for (const name of names) {
    const entry = (collection as Record<string, Record<string, unknown>>)[name];
    const row: unknown[] = [name];
    for (const prop of props) {
      const value = entry?.[prop];
      if (value === undefined) return undefined;
      row.push(prop === 'roles' && Array.isArray(value) ? [...value].sort(byCodePoint) : value);
    }
    out.push(row);
  }
  return out;
}

/**
 * The canonical text of an expected table; undefined when the file does not describe it whole,
 * or lists an INVALID index (compare reports every INVALID index: such a table is always read).
 */
export function canonicalTableText(table: TableExpectation): string | undefined {
  const scalars: unknown[] = [];
  for (const prop of TABLE) {
    if (table[prop] === undefined) return undefined;
    scalars.push(table[prop]);
  }
  const collections = [
    rows(table.columns, COLUMN),
    rows(table.indexes, INDEX),
    rows(table.constraints, CONSTRAINT),
    rows(table.triggers, TRIGGER),
    rows(table.policies, POLICY),
  ];
  if (collections.some((c) => c === undefined)) return undefined;
  if (collections[1]?.some((index) => index[2] !== true)) return undefined;
  return JSON.stringify([...scalars, ...collections]);
}

/** The digests of the tables a file describes whole, by qualified name. */
export function expectedTableDigests(expected: ExpectedSchema): Map<string, string> {
  const digests = new Map<string, string>();
  if (expected.tables === undefined || isNameList(expected.tables)) return digests;
  for (const [name, table] of Object.entries(expected.tables)) {
    const text = canonicalTableText(table);
    if (text !== undefined) digests.set(name, sha256(text));
  }
  return digests;
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
 * Splits the tables by digest: `ignored` names (preflight's own tables, left out of every
 * comparison) are never read; a table the file leaves out (without `tables`, none is compared)
 * is not read either.
 */
export function planByDigest(
  expected: ExpectedSchema,
  expectedDigests: ReadonlyMap<string, string>,
  actual: readonly DigestRow[],
  ignored: (name: string) => boolean,
): DigestPlan {
  if (expected.tables === undefined) return { read: [], expected, vouched: 0 };
  const vouched = new Set<string>();
  const read: number[] = [];
  for (const row of actual) {
    const name = `${row.schema}.${row.name}`;
    if (ignored(row.name)) continue;
    if (expectedDigests.get(name) === row.digest) vouched.add(name);
    else read.push(row.oid);
  }
  if (vouched.size === 0) return { read, expected, vouched: 0 };
  const tables: Record<string, TableExpectation> = {};
  for (const [name, table] of Object.entries(namedRecord(expected.tables))) {
    if (!vouched.has(name)) tables[name] = table;
  }
  return { read, expected: { ...expected, tables }, vouched: vouched.size };
}
