import { sha256 } from '../migrations/checksum.js';

/*
 * The tables of an expected-schema file found in its bytes, without parsing it: a file written as
 * snapshot writes it (formatExpectedSchema) has `"tables": {` on a line of its own at the first
 * level of indentation, and each table's object starts after `"name": ` on a line of the second
 * level and ends with `}` alone on a line of that level. A raw line break is never inside a JSON
 * string, so those lines are the structure itself. Each table's bytes are hashed as they are
 * (table-digest.ts: the server hashes the text it would write), and its collections' entries are
 * counted (the lines of the fourth level under each key of the third).
 *
 * Nothing here trusts the bytes: a file laid out otherwise has no slices, a table written
 * otherwise only has a digest that the server's does not match, and what the digests vouch for is
 * checked against the parse of the rest of the file (expected-file.ts).
 */

/** The collections of a table whose entries are counted, in TableSlice's `counts` order. */
export const COUNTED = ['columns', 'constraints', 'indexes', 'policies', 'triggers'] as const;

/** A table's bytes in the file: `{` to `}`, its digest, and how many entries each collection has. */
export interface TableSlice {
  readonly name: string;
  readonly start: number;
  readonly end: number;
  readonly digest: string;
  /** The entries of each of COUNTED, in that order. */
  readonly counts: readonly number[];
}

const TABLES_OPEN = Buffer.from('\n  "tables": {');

const NEWLINE = 0x0a;
const SPACE = 0x20;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * Which of COUNTED the key starting at `at` (its opening quote) is, by its first and third
 * letters (among the keys of a table as snapshot writes it); -1 for the others.
 */
function collectionAt(bytes: Buffer, at: number): number {
  switch (bytes[at + 1]) {
    case 0x63: // c: columns, constraints
      return bytes[at + 3] === 0x6c ? 0 : 1;
    case 0x69: // i: indexes
      return 2;
    case 0x70: // p: policies (partitionKey...: pa)
      return bytes[at + 2] === 0x6f ? 3 : -1;
    case 0x74: // t: triggers
      return 4;
    default:
      return -1;
  }
}

/** The tables of a file (findTables), and where they are. */
export interface FoundTables {
  /** The tables found, in file order, but any name found twice. */
  readonly slices: TableSlice[];
  /** Where the content of `tables` starts (after `{`) and ends (before its closing line). */
  readonly from: number;
  readonly to: number;
  /** Whether `slices` are all the tables there (no name was found twice). */
  readonly all: boolean;
}

/**
 * The tables of a file laid out as snapshot writes it, in file order, and where they are;
 * undefined when the file is laid out otherwise (or has no `tables`). A name found twice is left
 * out of `slices` (JSON.parse keeps the last: only a parse can tell which). One pass over the
 * lines of `tables`, by indentation: a table's key at the second level, its properties at the
 * third, their entries at the fourth. Only a table the server's digest vouches for has its counts
 * used: its keys are those of a table as snapshot writes it.
 *
 * Between the tables, only what snapshot writes there is taken: each table's key line, a comma
 * after every table but the last, and the closing brace of `tables`. Anything else (a key
 * indented deeper, a missing comma) makes the file one laid out otherwise: with every table
 * vouched for, the content of `tables` is left out of the parse altogether (expected-file.ts), so
 * nothing there may go unread.
 */
export function findTables(bytes: Buffer): FoundTables | undefined {
  const at = bytes.indexOf(TABLES_OPEN);
  if (at === -1) return undefined;
  const open = at + TABLES_OPEN.length;
  if (bytes[open] === CLOSE_BRACE) return { slices: [], from: open, to: open, all: true };
  const slices: TableSlice[] = [];
  const seen = new Map<string, number>();
  const length = bytes.length;
  let name = '';
  let start = -1;
  let counts = [0, 0, 0, 0, 0];
  let collection = -1;
  // Between tables: whether the next line may be a table's key (the first, or after `},`).
  let keyNext = true;
  let i = open;
  while (i < length) {
    // i is at a line break: the next line's depth, and its first character.
    let j = indentEnd(bytes, i + 1);
    const depth = j - i - 1;
    const first = bytes[j];
    let end = -1;
    if (start !== -1) {
      // Inside a table.
      if (depth === 8 && first === QUOTE) {
        if (collection >= 0) counts[collection] = (counts[collection] as number) + 1;
      } else if (depth === 6 && first === QUOTE) {
        collection = collectionAt(bytes, j);
      } else if (depth === 4 && first === CLOSE_BRACE) {
        end = j + 1;
      } else if (depth <= 4) {
        return undefined;
      }
    } else if (depth === 4 && first === QUOTE && keyNext) {
      const key = readKey(bytes, j);
      if (!key || bytes[key.end] !== COLON || bytes[key.end + 1] !== SPACE) return undefined;
      if (bytes[key.end + 2] !== OPEN_BRACE) return undefined;
      name = key.name;
      start = key.end + 2;
      counts = [0, 0, 0, 0, 0];
      collection = -1;
      // An empty table, `{}`, ends on its own line.
      if (bytes[start + 1] === CLOSE_BRACE) end = start + 2;
    } else if (depth === 2 && first === CLOSE_BRACE && !keyNext) {
      const once = slices.filter((s) => seen.get(s.name) === 1);
      return { slices: once, from: open, to: i, all: once.length === slices.length };
    } else {
      return undefined;
    }
    if (end !== -1) {
      seen.set(name, (seen.get(name) ?? 0) + 1);
      slices.push({ name, start, end, digest: sha256(bytes.subarray(start, end)), counts });
      start = -1;
      keyNext = bytes[end] === COMMA;
      j = keyNext ? end + 1 : end;
      if (bytes[j] !== NEWLINE) return undefined;
    }
    // On to the next line break.
    i = lineEnd(bytes, j, length);
  }
  return undefined;
}

/*
 * The two scans of every line, as functions of their own: called hundreds of thousands of times,
 * V8 optimises them early in the one call that reads a file (where a loop inline waits for the
 * whole function's on-stack replacement): about 15 ms less of that first call at 5,000 tables.
 */

/** Where the indentation that starts at `at` ends. */
function indentEnd(bytes: Buffer, at: number): number {
  let i = at;
  while (bytes[i] === SPACE) i++;
  return i;
}

/** The next line break from `at` on (or `length`). */
function lineEnd(bytes: Buffer, at: number, length: number): number {
  let i = at;
  while (i < length && bytes[i] !== NEWLINE) i++;
  return i;
}

/** The JSON string at `at` (its opening quote): its value, and the offset after its closing quote. */
function readKey(bytes: Buffer, at: number): { name: string; end: number } | undefined {
  if (bytes[at] !== QUOTE) return undefined;
  let escaped = false;
  for (let i = at + 1; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    if (byte < 0x20) return undefined;
    if (byte === BACKSLASH) {
      escaped = true;
      i++;
    } else if (byte === QUOTE) {
      const raw = bytes.toString('utf8', at + 1, i);
      if (!escaped) return { name: raw, end: i + 1 };
      try {
        return { name: JSON.parse(`"${raw}"`) as string, end: i + 1 };
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/**
 * The file's bytes with each slice of `taken` (in file order) replaced by `placeholder`: what is
 * left to parse once the digests vouch for those tables.
 */
export function withoutSlices(
  bytes: Buffer,
  taken: readonly TableSlice[],
  placeholder: Buffer,
): Buffer {
  const pieces: Buffer[] = [];
  let from = 0;
  for (const { start, end } of taken) {
    pieces.push(bytes.subarray(from, start), placeholder);
    from = end;
  }
  pieces.push(bytes.subarray(from));
  return Buffer.concat(pieces);
}
