import { SEED_MODES, type SeedMode, type SeedRow, type SeedValue } from './types.js';

/** The fields of a declarative seed file, once valid. */
export interface SeedDocument {
  readonly table: string;
  readonly key: readonly string[];
  readonly mode: SeedMode;
  readonly rows: readonly SeedRow[];
}

const REQUIRED = ['table', 'key', 'mode', 'rows'] as const;
// `$schema` lets editors validate the file; `description` stands in for the comments JSON lacks.
const OPTIONAL = ['$schema', 'description'];
const TABLE_NAME = /^[^.]+(?:\.[^.]+)?$/;

/** A short, quoted rendering of a bad value for a message. */
export function show(value: unknown, max = 40): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** How a key value reads in messages and finding names: `name=Owner`, `a=1,b=x`. */
export function describeKey(key: readonly string[], row: SeedRow): string {
  return key
    .map((c) => `${c}=${typeof row[c] === 'string' ? (row[c] as string) : show(row[c])}`)
    .join(',');
}

function checkTable(value: unknown, problems: string[]): void {
  if (value === undefined) {
    problems.push('"table" is required: the table to write, e.g. "team_roles" or "billing.plans"');
  } else if (typeof value !== 'string') {
    problems.push(`"table" must be a string, got ${show(value)}`);
  } else if (!TABLE_NAME.test(value)) {
    problems.push(`"table" must be "table" or "schema.table", got ${show(value)}`);
  }
}

function checkKey(value: unknown, problems: string[]): void {
  if (value === undefined) {
    problems.push('"key" is required: the columns that identify a row, e.g. ["name"]');
    return;
  }
  if (!Array.isArray(value)) {
    problems.push(`"key" must be an array of column names, got ${show(value)}`);
    return;
  }
  if (value.length === 0) problems.push('"key" must name at least one column');
  const seen = new Set<string>();
  value.forEach((column: unknown, i) => {
    if (typeof column !== 'string' || column === '') {
      problems.push(`"key"[${i}] must be a column name, got ${show(column)}`);
    } else if (seen.has(column)) {
      problems.push(`"key" names column ${show(column)} twice`);
    }
    if (typeof column === 'string') seen.add(column);
  });
}

function checkMode(value: unknown, problems: string[]): void {
  if (value === undefined) {
    problems.push(
      '"mode" is required: "insert-missing" (add absent rows) or "upsert" (also rewrite them)',
    );
  } else if (!(SEED_MODES as readonly unknown[]).includes(value)) {
    problems.push(`"mode" must be "insert-missing" or "upsert", got ${show(value)}`);
  }
}

function checkRow(row: unknown, i: number, key: readonly string[], problems: string[]): boolean {
  if (!isObject(row)) {
    problems.push(`rows[${i}] must be an object of column values, got ${show(row)}`);
    return false;
  }
  const before = problems.length;
  for (const [column, value] of Object.entries(row)) {
    if (column === '') problems.push(`rows[${i}] has a property with an empty name`);
    if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) {
      problems.push(
        `rows[${i}].${column}: ${show(value)} is beyond 2^53 and loses precision as a JSON number: write it as a string`,
      );
    }
  }
  for (const column of key) {
    if (!(column in row)) problems.push(`rows[${i}] lacks key column ${show(column)}`);
    else if (row[column] === null)
      problems.push(
        `rows[${i}] has a null key column ${show(column)}: key values must not be null`,
      );
  }
  return problems.length === before;
}

function checkRows(value: unknown, key: unknown, problems: string[]): void {
  if (value === undefined) {
    problems.push('"rows" is required: an array of objects, one per row (it may be empty)');
    return;
  }
  if (!Array.isArray(value)) {
    problems.push(`"rows" must be an array of objects, got ${show(value)}`);
    return;
  }
  const keyColumns = Array.isArray(key)
    ? key.filter((k): k is string => typeof k === 'string' && k !== '')
    : [];
  const firstWithKey = new Map<string, number>();
  value.forEach((row: unknown, i) => {
    if (!checkRow(row, i, keyColumns, problems) || keyColumns.length === 0) return;
    const seedRow = row as SeedRow;
    const identity = JSON.stringify(keyColumns.map((c) => seedRow[c]));
    const first = firstWithKey.get(identity);
    if (first === undefined) firstWithKey.set(identity, i);
    else
      problems.push(
        `rows[${i}] repeats the key of rows[${first}] (${describeKey(keyColumns, seedRow)})`,
      );
  });
}

/**
 * Checks a parsed seed document; returns the valid document, or every problem found (each
 * without the file name, which the caller prefixes).
 */
export function validateSeedDocument(value: unknown): SeedDocument | { problems: string[] } {
  if (!isObject(value)) {
    const kind = Array.isArray(value) ? 'an array' : show(value);
    return { problems: [`expected an object with "table", "key", "mode" and "rows", got ${kind}`] };
  }
  const problems: string[] = [];
  for (const name of Object.keys(value)) {
    if (!(REQUIRED as readonly string[]).includes(name) && !OPTIONAL.includes(name)) {
      problems.push(`unknown property ${show(name)}: expected "table", "key", "mode" and "rows"`);
    }
  }
  if (value.description !== undefined && typeof value.description !== 'string') {
    problems.push(`"description" must be a string, got ${show(value.description)}`);
  }
  checkTable(value.table, problems);
  checkKey(value.key, problems);
  checkMode(value.mode, problems);
  checkRows(value.rows, value.key, problems);
  if (problems.length > 0) return { problems };
  return {
    table: value.table as string,
    key: value.key as string[],
    mode: value.mode as SeedMode,
    rows: value.rows as Record<string, SeedValue>[],
  };
}
