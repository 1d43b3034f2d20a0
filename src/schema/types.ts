/**
 * The expected-schema format (SPEC §6) and the snapshot that introspection produces.
 *
 * One JSON format serves both uses:
 * - a partial, hand-written file lists only what matters: every listed object must exist, and
 *   only the properties given are checked (`"public.users": {}` only says the table exists);
 * - an exhaustive snapshot (`"exhaustive": true`, written by `preflight snapshot`) lists every
 *   object with every property; objects in the database that it does not list are reported as
 *   extra. A collection that is left out (no `"functions"`, a table without `"columns"`) is not
 *   checked for extras even then; an empty one (`"functions": {}`) is.
 *
 * Names: tables, views, sequences and enums are keyed `schema.name` (unquoted, split at the first
 * dot), functions `schema.name(argument types)` as `oidvectortypes` prints them
 * (`public.add(integer, integer)`), extensions by bare name. Columns, indexes, constraints,
 * triggers and policies are keyed by bare name inside their table. Every named collection may
 * also be written as an array of names (`"columns": ["bio", "is_temp_password"]`), which means
 * "these exist" with no property checked.
 *
 * Type names, defaults and expressions are printed as the server prints them with `search_path`
 * set to the file's `schemas`, so objects in those schemas appear unqualified.
 */

/** The schemas verified when a file does not say: `["public"]`. */
export const DEFAULT_SCHEMAS: readonly string[] = ['public'];

/** The format version this code reads and writes. */
export const EXPECTED_SCHEMA_VERSION = 1;

export interface ColumnState {
  /** As `format_type` prints it: `character varying(255)`, `timestamp with time zone`, `text[]`. */
  type: string;
  nullable: boolean;
  /** The default expression (`now()`, `'draft'::invoice_status`), null when there is none. */
  default: string | null;
  identity: 'always' | 'by default' | null;
  /** The generation expression of a generated column (stored or virtual), else null. */
  generated: string | null;
}

export interface IndexState {
  /** `pg_get_indexdef`: `CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)`. */
  definition: string;
  /** False for an index left INVALID by a failed `CREATE INDEX CONCURRENTLY`: always an error. */
  valid: boolean;
}

export type ConstraintType = 'primary key' | 'foreign key' | 'unique' | 'check' | 'exclusion';

export interface ConstraintState {
  type: ConstraintType;
  /** `pg_get_constraintdef`, including ON DELETE / ON UPDATE actions of foreign keys. */
  definition: string;
  deferrable: boolean;
  deferred: boolean;
  /** False for a constraint added NOT VALID and never validated. */
  validated: boolean;
}

/** `true` fires normally, `false` is disabled; `replica` and `always` as ALTER TABLE sets them. */
export type TriggerEnabled = boolean | 'replica' | 'always';

export interface TriggerState {
  /** `pg_get_triggerdef`: `CREATE TRIGGER t BEFORE UPDATE ON public.users FOR EACH ROW ...`. */
  definition: string;
  enabled: TriggerEnabled;
}

export type PolicyCommand = 'all' | 'select' | 'insert' | 'update' | 'delete';

export interface PolicyState {
  command: PolicyCommand;
  permissive: boolean;
  /** Role names, sorted; `public` when the policy applies to everyone. */
  roles: string[];
  using: string | null;
  withCheck: string | null;
}

export interface TableState {
  kind: 'table' | 'partitioned';
  /** `RANGE (created_at)` for a partitioned table, else null. */
  partitionKey: string | null;
  /** The parent (`public.events`) when this table is a partition, else null. */
  partitionOf: string | null;
  /** `FOR VALUES FROM (...) TO (...)` when this table is a partition, else null. */
  partitionBound: string | null;
  /** Row-level security enabled (`relrowsecurity`). */
  rls: boolean;
  /** Row-level security forced on the table owner too (`relforcerowsecurity`). */
  rlsForced: boolean;
  columns: Record<string, ColumnState>;
  indexes: Record<string, IndexState>;
  constraints: Record<string, ConstraintState>;
  triggers: Record<string, TriggerState>;
  policies: Record<string, PolicyState>;
}

export interface FunctionState {
  kind: 'function' | 'procedure' | 'aggregate' | 'window';
  /** `pg_get_function_result`: `trigger`, `TABLE(id integer)`; null for procedures. */
  returns: string | null;
  language: string;
  /** `pg_get_functiondef` (null for aggregates, which it cannot print). */
  definition: string | null;
}

export interface ViewState {
  kind: 'view' | 'materialized';
  /** `pg_get_viewdef`; compared with whitespace collapsed. */
  definition: string;
  /** Indexes of a materialized view (always empty for a plain view). */
  indexes: Record<string, IndexState>;
  /** INSTEAD OF (and other) triggers on the view. */
  triggers: Record<string, TriggerState>;
}

/** Sequence numbers are bigint: kept as decimal strings so nothing loses precision. */
export interface SequenceState {
  type: string;
  start: string;
  increment: string;
  min: string;
  max: string;
  cache: string;
  cycle: boolean;
}

export interface EnumState {
  /** Labels in their sort order (`enumsortorder`). */
  labels: string[];
}

export interface ExtensionState {
  schema: string;
  /** Recorded by introspection; compared only when a file states it. */
  version: string;
}

/** Everything introspection read from the catalog, keyed by name (in catalog order). */
export interface SchemaSnapshot {
  schemas: string[];
  tables: Record<string, TableState>;
  functions: Record<string, FunctionState>;
  views: Record<string, ViewState>;
  sequences: Record<string, SequenceState>;
  enums: Record<string, EnumState>;
  extensions: Record<string, ExtensionState>;
}

/** A named collection in a file: objects keyed by name, or just the names. */
export type Named<T> = Readonly<Record<string, T>> | readonly string[];

export type ColumnExpectation = Partial<ColumnState>;
export type IndexExpectation = Partial<IndexState>;
export type ConstraintExpectation = Partial<ConstraintState>;
export type TriggerExpectation = Partial<TriggerState>;
export type PolicyExpectation = Partial<PolicyState>;
export type FunctionExpectation = Partial<FunctionState>;
export type EnumExpectation = Partial<EnumState>;
export type ExtensionExpectation = Partial<ExtensionState>;

type TableScalars = Omit<
  TableState,
  'columns' | 'indexes' | 'constraints' | 'triggers' | 'policies'
>;

export interface TableExpectation extends Partial<TableScalars> {
  columns?: Named<ColumnExpectation>;
  indexes?: Named<IndexExpectation>;
  constraints?: Named<ConstraintExpectation>;
  triggers?: Named<TriggerExpectation>;
  policies?: Named<PolicyExpectation>;
}

export interface ViewExpectation extends Partial<Pick<ViewState, 'kind' | 'definition'>> {
  indexes?: Named<IndexExpectation>;
  triggers?: Named<TriggerExpectation>;
}

/** Hand-written files may give sequence numbers as JSON numbers or as decimal strings. */
export type SequenceExpectation = {
  [K in keyof SequenceState]?: SequenceState[K] extends string
    ? K extends 'type'
      ? string
      : string | number
    : SequenceState[K];
};

/** A named SQL query that must return exactly one row with one boolean column, true. */
export interface Assertion {
  name: string;
  sql: string;
}

/** The expected-schema file (`migrations/expected-schema.json`). */
export interface ExpectedSchema {
  /** Editor hint pointing at `schema/expected-schema.schema.json`; ignored. */
  $schema?: string;
  /** Format version; 1 when left out. */
  version?: number;
  /** True for a generated snapshot: unlisted objects are reported as extra. */
  exhaustive?: boolean;
  /** The schemas to introspect; `["public"]` when left out. */
  schemas?: readonly string[];
  tables?: Named<TableExpectation>;
  functions?: Named<FunctionExpectation>;
  views?: Named<ViewExpectation>;
  sequences?: Named<SequenceExpectation>;
  enums?: Named<EnumExpectation>;
  extensions?: Named<ExtensionExpectation>;
  assertions?: readonly Assertion[];
}

/** The schemas a file asks to introspect (its `schemas`, or `["public"]`). */
export function schemasOf(expected: ExpectedSchema): readonly string[] {
  return expected.schemas ?? DEFAULT_SCHEMAS;
}

/** The entries of a named collection; names given as an array map to `{}` (existence only). */
export function namedEntries<T extends object>(
  collection: Named<T> | undefined,
): [string, Partial<T>][] {
  return Object.entries(namedRecord(collection));
}

/** A named collection as an object keyed by name; an array of names maps each name to `{}`. */
export function namedRecord<T extends object>(
  collection: Named<T> | undefined,
): Readonly<Record<string, Partial<T>>> {
  if (collection === undefined) return {};
  if (!isNameList(collection)) return collection;
  const record: Record<string, Partial<T>> = {};
  for (const name of collection) record[name] = {};
  return record;
}

/** Whether a named collection is written as a list of names. */
export function isNameList<T>(collection: Named<T>): collection is readonly string[] {
  return Array.isArray(collection);
}

/** Orders strings by code point, the same on every machine (unlike localeCompare). */
export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
