import { createHash, type Hash } from 'node:crypto';
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
  /** The file's bytes before `from`, and from `to` on: the file without its tables' content. */
  readonly head: Buffer;
  readonly tail: Buffer;
}

/**
 * The bytes a scan looks at: a whole file in memory, or a window that moves along a file read
 * through one buffer (read-whole.ts). `bytes` holds the file's bytes from `base` on, `length` of
 * them; `eof` when nothing follows (`bytes` then ends where the file does).
 */
export interface Window {
  readonly bytes: Buffer;
  readonly length: number;
  readonly base: number;
  readonly eof: boolean;
  /** Drops the bytes before `keep`, and reads more behind the rest (which moves to the start). */
  more(keep: number): void;
  /** The bytes from `from` to `to`, as a buffer that stays what it is after more(). */
  take(from: number, to: number): Buffer;
}

/** A whole file's bytes as a Window: nothing more to read. */
function wholeWindow(bytes: Buffer): Window {
  return {
    bytes,
    length: bytes.length,
    base: 0,
    eof: true,
    more() {
      throw new Error('a whole file has nothing more to read');
    },
    take: (from, to) => bytes.subarray(from, to),
  };
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
  return scanTables(wholeWindow(bytes));
}

/**
 * findTables through a Window: a line is looked at once it is whole in the window, and a table
 * that the window cuts is hashed in pieces. The tail is read to the file's end.
 */
export function scanTables(window: Window): FoundTables | undefined {
  const opened = openTables(window);
  if (!opened) return undefined;
  const { from, head, open } = opened;
  if (window.bytes[open] === CLOSE_BRACE) {
    return { slices: [], from, to: from, all: true, head, tail: tailFrom(window, open) };
  }
  const slices: TableSlice[] = [];
  const seen = new Map<string, number>();
  let name = '';
  // The table's start in the file; its bytes not hashed yet start at `hashFrom` in the window.
  let start = -1;
  let hashFrom = 0;
  let hashed: Hash | undefined;
  let counts = [0, 0, 0, 0, 0];
  let collection = -1;
  // Between tables: whether the next line may be a table's key (the first, or after `},`).
  let keyNext = true;
  let i = open;
  let bytes = window.bytes;
  let length = window.length;
  while (i < length) {
    // i is at a line break: the next line's depth, and its first character.
    let j = indentEnd(bytes, i + 1);
    const lineBreak = lineEnd(bytes, j, length);
    if (lineBreak >= length && !window.eof) {
      // The line goes on past the window: the window moves on to start at its line break (the
      // table's bytes before it hashed first).
      if (start !== -1) {
        hashed ??= createHash('sha256');
        hashed.update(bytes.subarray(hashFrom, i));
        hashFrom = 0;
      }
      window.more(i);
      bytes = window.bytes;
      length = window.length;
      i = 0;
      continue;
    }
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
      const key = readKey(bytes, j, lineBreak);
      if (!key || bytes[key.end] !== COLON || bytes[key.end + 1] !== SPACE) return undefined;
      if (bytes[key.end + 2] !== OPEN_BRACE) return undefined;
      name = key.name;
      hashFrom = key.end + 2;
      start = window.base + hashFrom;
      counts = [0, 0, 0, 0, 0];
      collection = -1;
      // An empty table, `{}`, ends on its own line.
      if (bytes[hashFrom + 1] === CLOSE_BRACE) end = hashFrom + 2;
    } else if (depth === 2 && first === CLOSE_BRACE && !keyNext) {
      const once = slices.filter((s) => seen.get(s.name) === 1);
      const to = window.base + i;
      return {
        slices: once,
        from,
        to,
        all: once.length === slices.length,
        head,
        tail: tailFrom(window, i),
      };
    } else {
      return undefined;
    }
    if (end !== -1) {
      seen.set(name, (seen.get(name) ?? 0) + 1);
      const digest = hashed
        ? hashed.update(bytes.subarray(hashFrom, end)).digest('hex')
        : sha256(bytes.subarray(hashFrom, end));
      hashed = undefined;
      slices.push({ name, start, end: window.base + end, digest, counts });
      start = -1;
      keyNext = bytes[end] === COMMA;
      j = keyNext ? end + 1 : end;
      if (j !== lineBreak) return undefined;
    }
    // On to the next line break.
    i = lineBreak;
  }
  return undefined;
}

/** Where `tables` opens in a window (see openTables). */
interface Opened {
  /** Where the content of `tables` starts in the file (after `{`). */
  readonly from: number;
  /** The file's bytes before `from`. */
  readonly head: Buffer;
  /** Where the content of `tables` starts in the window (moved on to hold it). */
  readonly open: number;
}

/** Finds `"tables": {` on a line of its own in the window (moved on until it holds it). */
function openTables(window: Window): Opened | undefined {
  const head: Buffer[] = [];
  // `tables` opens where its line is; its line may be cut by the window's end.
  let at = window.bytes.subarray(0, window.length).indexOf(TABLES_OPEN);
  while (at === -1) {
    if (window.eof) return undefined;
    const keep = Math.max(0, window.length - TABLES_OPEN.length + 1);
    head.push(window.take(0, keep));
    window.more(keep);
    at = window.bytes.subarray(0, window.length).indexOf(TABLES_OPEN);
  }
  let open = at + TABLES_OPEN.length;
  const from = window.base + open;
  head.push(window.take(0, open));
  if (open === window.length && !window.eof) {
    window.more(open);
    open = 0;
  }
  return { from, head: joined(head), open };
}

/** The window's bytes from `at` on, to the end of the file (read to its end). */
function tailFrom(window: Window, at: number): Buffer {
  const pieces = [window.take(at, window.length)];
  while (!window.eof) {
    window.more(window.length);
    pieces.push(window.take(0, window.length));
  }
  return joined(pieces);
}

/**
 * Whether two reads of a file found the same tables in the same places, the bytes around them
 * equal: the same file, but for a table's key spelled otherwise (another escape of the same name).
 */
export function sameTables(a: FoundTables | undefined, b: FoundTables): boolean {
  return (
    a !== undefined &&
    a.all === b.all &&
    a.from === b.from &&
    a.to === b.to &&
    a.head.equals(b.head) &&
    a.tail.equals(b.tail) &&
    a.slices.length === b.slices.length &&
    a.slices.every((slice, i) => {
      const other = b.slices[i];
      return (
        other !== undefined &&
        slice.name === other.name &&
        slice.start === other.start &&
        slice.end === other.end &&
        slice.digest === other.digest
      );
    })
  );
}

/** A table as the server prints it (DigestRow): its text's length, digest and counts. */
export interface TableGuide {
  /** The qualified name, the table's key in the file. */
  readonly name: string;
  readonly length: number;
  readonly digest: string;
  readonly counts: readonly number[];
}

const TABLES_CLOSE = Buffer.from('\n  }');
const KEY_OPEN = '\n    "';
const KEY_CLOSE = '": ';

/**
 * A text as JSON.stringify writes it between its quotes: the text itself when it holds nothing
 * JSON escapes (a quote, a backslash, a control character, a lone surrogate), as most names.
 */
function jsonInner(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === QUOTE || code === BACKSLASH || (code >= 0xd800 && code <= 0xdfff))
      return JSON.stringify(text).slice(1, -1);
  }
  return text;
}

/**
 * The tables of a file found by the server's texts of them, without a line looked at, a stretch
 * of tables at a time (each share of the digests its own stretch, in file order): each `next`
 * guide (in file order, the code-point order of the names) says what snapshot writes for those
 * tables of the catalog, so the file is taken as that, byte for byte: each table's key line, then
 * `length` bytes whose SHA-256 is `digest`, with a comma between tables; `end` then takes the
 * closing line of `tables` and reads the rest of the file. The walk stops at the first byte that
 * differs (a table changed, missing or added, a name given twice, another layout): the caller then
 * scans the file (scanTables), which finds what the file holds. A slice found here is one
 * scanTables finds too, with the same digest and counts (the server's, for the same text).
 */
export class GuidedTables {
  private readonly opened: Opened | undefined;
  private readonly slices: TableSlice[] = [];
  private readonly names = new Set<string>();
  private i: number;
  private failed: boolean;
  /** Where expectLine writes a text that is not ASCII (a table's name), to compare it. */
  private scratch = Buffer.allocUnsafe(256);

  constructor(private readonly window: Window) {
    this.opened = openTables(window);
    this.failed = this.opened === undefined;
    this.i = this.opened?.open ?? 0;
  }

  /** Takes the next stretch of tables; false (and the walk over) at the first byte that differs. */
  next(guide: readonly TableGuide[]): boolean {
    if (this.failed) return false;
    for (let at = 0; at < guide.length; at++) {
      if (!this.table(guide[at] as TableGuide)) {
        this.failed = true;
        return false;
      }
    }
    return true;
  }

  /** The tables found, once every stretch is taken; undefined when one was not what the file is. */
  end(): FoundTables | undefined {
    const { opened, window } = this;
    if (this.failed || !opened) return undefined;
    this.failed = true;
    const { from, head } = opened;
    if (this.slices.length === 0) {
      if (window.bytes[this.i] !== CLOSE_BRACE) return undefined;
      return { slices: [], from, to: from, all: true, head, tail: tailFrom(window, this.i) };
    }
    // The closing line, left in the tail.
    if (!this.expect(TABLES_CLOSE)) return undefined;
    this.i -= TABLES_CLOSE.length;
    const to = window.base + this.i;
    return { slices: this.slices, from, to, all: true, head, tail: tailFrom(window, this.i) };
  }

  /** Takes one table: its key line (after a comma but for the first), its text, its digest. */
  private table({ name, length, digest, counts }: TableGuide): boolean {
    const { window } = this;
    if (this.names.has(name)) return false;
    this.names.add(name);
    // The comma after the table before (but for the first), and this one's key line: its name
    // as JSON writes it, compared where it is.
    if (this.slices.length > 0 && !this.expectLine(',')) return false;
    if (!this.expectLine(KEY_OPEN) || !this.expectLine(jsonInner(name))) return false;
    if (!this.expectLine(KEY_CLOSE)) return false;
    const start = window.base + this.i;
    let hashed: string;
    if (this.i + length <= window.length) {
      hashed = sha256(window.bytes.subarray(this.i, this.i + length));
      this.i += length;
    } else {
      // Cut by the window's end: hashed a window at a time.
      const hash = createHash('sha256');
      let left = length;
      while (left > 0) {
        if (!this.holds(1)) return false;
        const n = Math.min(left, window.length - this.i);
        hash.update(window.bytes.subarray(this.i, this.i + n));
        this.i += n;
        left -= n;
      }
      hashed = hash.digest('hex');
    }
    if (hashed !== digest) return false;
    this.slices.push({ name, start, end: window.base + this.i, digest, counts });
    return true;
  }

  /** Whether the window holds `n` bytes from i on (moved on, or grown, to hold them). */
  private holds(n: number): boolean {
    const { window } = this;
    while (this.i + n > window.length && !window.eof) {
      window.more(this.i);
      this.i = 0;
    }
    return this.i + n <= window.length;
  }

  /**
   * expect for a text: an ASCII one compared byte by byte where it is (no buffer of its own per
   * table, nor a call out of JavaScript), any other written into a buffer kept for it.
   */
  private expectLine(line: string): boolean {
    const n = line.length;
    if (!this.holds(n)) return false;
    const { bytes } = this.window;
    const { i } = this;
    for (let k = 0; k < n; k++) {
      const code = line.charCodeAt(k);
      if (code > 0x7f) {
        if (line.length * 3 > this.scratch.length)
          this.scratch = Buffer.allocUnsafe(line.length * 3);
        return this.expect(this.scratch, this.scratch.write(line));
      }
      if (bytes[i + k] !== code) return false;
    }
    this.i += n;
    return true;
  }

  /** Whether the bytes at i are `text` (its first `n`; i then moves past them). */
  private expect(text: Buffer, n = text.length): boolean {
    if (!this.holds(n)) return false;
    const { i } = this;
    if (this.window.bytes.compare(text, 0, n, i, i + n) !== 0) return false;
    this.i += n;
    return true;
  }
}

/** GuidedTables over a whole file's bytes. */
export function guidedIn(bytes: Buffer): GuidedTables {
  return new GuidedTables(wholeWindow(bytes));
}

/**
 * The name of the first table whose key line starts in `bytes` (a piece of a file laid out as
 * snapshot writes it, read from anywhere in its tables): a line of the second level that starts
 * with a key whose value is an object is a table's there (or, past the tables, a function's,
 * a view's...: a guess). Undefined when `bytes` hold none.
 */
export function firstTableIn(bytes: Buffer): string | undefined {
  for (let at = bytes.indexOf(TABLE_KEY); at !== -1; at = bytes.indexOf(TABLE_KEY, at + 1)) {
    const key = readKey(bytes, at + TABLE_KEY.length - 1, bytes.length);
    // An object's key: a string of a list (the schemas') or a key of another value is not.
    if (key && bytes[key.end] === COLON && bytes[key.end + 1] === SPACE)
      if (bytes[key.end + 2] === OPEN_BRACE) return key.name;
  }
  return undefined;
}

const TABLE_KEY = Buffer.from(KEY_OPEN);

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

/**
 * The JSON string at `at` (its opening quote), before `length`: its value, and the offset after its
 * closing quote.
 */
function readKey(
  bytes: Buffer,
  at: number,
  length: number,
): { name: string; end: number } | undefined {
  if (bytes[at] !== QUOTE) return undefined;
  let escaped = false;
  for (let i = at + 1; i < length; i++) {
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

/** The pieces as one buffer (the one piece itself, when there is one). */
function joined(pieces: readonly Buffer[]): Buffer {
  return pieces.length === 1 && pieces[0] ? pieces[0] : Buffer.concat(pieces);
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
