import { createHash, randomBytes, type Hash } from 'node:crypto';
import { readFileSync, rename as renameCallback, writeFile as writeFileCallback } from 'node:fs';
import { promisify } from 'node:util';
import { ConfigError } from '../errors.js';
import { sha256 as sha256Of } from '../migrations/checksum.js';
import { isPlainObject, validateExpectedSchema } from './expected-validate.js';
import { firstSyntaxError } from './json-syntax.js';
import {
  FileWindow,
  HEAD_BYTES,
  readAtSync,
  readStart,
  readStartSync,
  type FileStart,
} from './read-whole.js';
import {
  findTables,
  firstTableIn,
  GuidedTables,
  guidedIn,
  sameTables,
  scanTables,
  type TableGuide,
  withoutSlices,
  type FoundTables,
  type TableSlice,
} from './table-slices.js';
import { byCodePoint, type ExpectedSchema } from './types.js';

// Node's callback API, promisified: node:fs/promises would load its own modules (readline among
// them) on every start.
const rename = promisify(renameCallback);
const writeFile = promisify(writeFileCallback);

/** An expected-schema file as read: hashed, parsed and validated only when needed. */
export interface ExpectedSource {
  readonly path: string;
  /**
   * SHA-256 of the file's bytes, hex: the key of its verified state (verified-state.ts). Computed
   * when first asked (tens of milliseconds at thousands of tables), so that a caller can send its
   * first queries before.
   */
  readonly sha256: string;
  /**
   * sha256, computed a chunk per turn of the event loop (which stays free for the session's
   * answers meanwhile), once; sets `sha256` too. Undefined when `stop` aborts it first, or was
   * aborted already (nothing will need it: a later call starts again).
   */
  hash?(stop?: AbortSignal): Promise<string | undefined>;
  /** The file's size in bytes (a measure of the schema's size before parsing it). */
  readonly size: number;
  /** Parses and validates the file, once; throws ConfigError (exit 2) as loadExpectedSchema does. */
  schema(): ExpectedSchema;
  /** Whether schema() has run (and succeeded). */
  readonly parsed: boolean;
  /**
   * The `schemas` list as the file's first 64 KiB show it (where snapshot writes it), without
   * parsing the file: a guess, to be checked against schema() once parsed; undefined when absent.
   */
  schemasHint(): string[] | undefined;
  /** Whether the file's first 64 KiB say `"exhaustive": true` (where snapshot writes it). */
  exhaustiveHint(): boolean;
  /**
   * The tables found in the file's bytes without parsing it (table-slices.ts), found once;
   * undefined when the file is not laid out as snapshot writes it. A large file is read again for
   * them: ConfigError when it can no longer be read, or is not the file it was when first read.
   */
  tableSlices?(): readonly TableSlice[] | undefined;
  /**
   * The tables found by the server's texts of them (GuidedTables), a stretch at a time, before
   * tableSlices; undefined once they are found. What `end` finds is what tableSlices then returns
   * (a large file read to its end, its SHA-256 checked as every read's: ConfigError as
   * tableSlices). `keyed` (the default): the file's SHA-256 may be asked for afterwards (a
   * verified state recorded under it), so the walk hashes the file as it reads it; without it,
   * a walk that is the file's first read hashes nothing, and a later read is checked against the
   * tables it found. Closed by the caller in any case.
   */
  guideSlices?(keyed?: boolean): TableWalk | undefined;
  /**
   * The name of the first table whose key line starts after `fraction` of the file's bytes, from
   * a small read there (snapshot's layout); undefined when none is found there. Only a guess of
   * where the tables are: see parseWhileReading.
   */
  tableAfter?(fraction: number): string | undefined;
  /**
   * The file without the tables `vouched` (slices of tableSlices, in file order): only the rest is
   * parsed and validated (the server's digest of each vouched table equals its slice's, so each
   * is a table as snapshot writes it). Undefined when the parse shows a vouched slice is not what
   * the file means by that name (written twice). Throws ConfigError as schema() does, with the
   * whole file's line and column.
   */
  schemaWithout?(vouched: readonly TableSlice[]): ExpectedSchema | undefined;
}

/** A read of the file's tables by the server's texts of them (ExpectedSource.guideSlices). */
export interface TableWalk {
  /** Takes the next stretch of tables (GuidedTables.next). */
  next(guide: readonly TableGuide[]): boolean;
  /** The tables found, every stretch taken; undefined when a stretch was not what the file is. */
  end(): readonly TableSlice[] | undefined;
  /** Ends the read (its file closed), found or not. */
  close(): void;
}

/**
 * The bytes hashed per turn of the event loop by ExpectedSource.hash (a few milliseconds), and the
 * buffer a large file is read through.
 */
const HASH_CHUNK = 1024 * 1024;

/** How a large file is read (tests take smaller sizes, to cut it in more places). */
export interface ReadSizes {
  /** Files up to this size are held whole (read-whole.ts: WHOLE_UP_TO). */
  readonly wholeUpTo?: number;
  /** The buffer a larger file is read through, a window at a time. */
  readonly window?: number;
}

/**
 * Reads an expected-schema file without parsing it; ConfigError when it cannot be read. `started`
 * is a read of its start (readStart, with HEAD_BYTES) already under way.
 */
export async function readExpectedSource(
  path: string,
  started?: Promise<FileStart>,
  sizes: ReadSizes = {},
): Promise<ExpectedSource> {
  let start: FileStart;
  try {
    start = await (started ?? readStart(path, HEAD_BYTES, sizes.wholeUpTo));
  } catch (error) {
    throw unreadableFile(path, error);
  }
  return expectedSource(path, start, sizes.window ?? HASH_CHUNK);
}

/**
 * readExpectedSource on this thread, at once: a read on the thread pool comes back only once this
 * thread is free, which at start-up can be many milliseconds after the read itself is done.
 */
export function readExpectedSourceNow(path: string, sizes: ReadSizes = {}): ExpectedSource {
  let start: FileStart;
  try {
    start = readStartSync(path, HEAD_BYTES, sizes.wholeUpTo);
  } catch (error) {
    throw unreadableFile(path, error);
  }
  return expectedSource(path, start, sizes.window ?? HASH_CHUNK);
}

/**
 * The file as read: from its bytes, or, for a large file (FileStart without bytes), from its head,
 * the rest read by path when needed, through one buffer of `window` bytes: hashed, and its tables
 * found, without holding it whole; only a parse of the whole file reads it whole. Every read of the
 * whole file after the first must have the first one's SHA-256 (the key of the verified state): a
 * file written meanwhile is a ConfigError, never verified as one file and recorded as another.
 */
function expectedSource(path: string, start: FileStart, window: number): ExpectedSource {
  let bytes = start.bytes;
  const [size, first] =
    start.bytes === undefined ? [start.size, start.head] : [start.bytes.length, start.bytes];
  let sha256: string | undefined;
  let parsed: ExpectedSchema | undefined;
  let text: string | undefined;
  // Where snapshot writes the hints: decoded once, for both.
  const head = (): string => (text ??= first.subarray(0, HEAD_BYTES).toString('utf8'));
  let found: FoundTables | undefined | null = null;
  // The tables were found by a walk that hashed nothing (no read before it had a hash to check):
  // a later read of the whole file is checked against them, where it would be against a hash.
  let unhashed = false;
  let hashing: Promise<string | undefined> | undefined;
  // The buffer a large file is read through, lent to one read at a time (another at once, as a
  // hash while the tables are found, takes one of its own).
  let spare: Buffer | undefined;
  const borrow = (): Buffer => {
    const lent = spare ?? Buffer.allocUnsafe(window);
    spare = undefined;
    return lent;
  };
  // A read of the whole file: the first one's SHA-256 is the file's, the next ones must match.
  const read = (hash: string): void => {
    if (sha256 !== undefined && sha256 !== hash) throw changedWhileRead(path);
    sha256 = hash;
  };
  const whole = (): Buffer => {
    if (bytes) return bytes;
    let all: Buffer;
    try {
      all = readFileSync(path);
    } catch (error) {
      throw unreadableFile(path, error);
    }
    if (unhashed && found && !sameTables(findTables(all), found)) throw changedWhileRead(path);
    read(sha256Of(all));
    return (bytes = all);
  };
  // The file read through a window from its start, `through` taking it on (to its end, for the
  // whole file's hash; undefined when it stops before), the hash checked as a read of the whole.
  const readThrough = <T>(
    through: (file: FileWindow) => T | undefined,
  ): { value: T; sha256: string } | undefined => {
    const hash = createHash('sha256');
    const lent = borrow();
    const file = openWindow(path, lent, hash);
    let value: T | undefined;
    try {
      value = through(file);
    } catch (error) {
      throw isSystemError(error) ? unreadableFile(path, error) : error;
    } finally {
      file.close();
      spare = lent;
    }
    if (value === undefined) return undefined;
    const digest = hash.digest('hex');
    read(digest);
    return { value, sha256: digest };
  };
  return {
    path,
    get sha256() {
      if (sha256 !== undefined) return sha256;
      if (bytes) return (sha256 = sha256Of(bytes));
      if (unhashed) {
        // Read whole, checked against the tables the walk found: the file's hash is then its own.
        whole();
        if (sha256 !== undefined) return sha256;
      }
      const through = readThrough((file) => {
        while (!file.eof) file.more(file.length);
        return true;
      });
      if (!through) throw new Error('the read of a whole file stopped before its end');
      return through.sha256;
    },
    hash(stop) {
      if (hashing) return hashing;
      // A hash that stops is not kept, even one stopped before its first chunk (a signal
      // aborted already): the next call starts again.
      let started: Promise<string | undefined> | undefined = undefined;
      let stopped = false;
      started = new Promise((resolve, reject) => {
        const hash = createHash('sha256');
        // The file's bytes, or a window through it (opened at the first chunk).
        let file: FileWindow | undefined;
        let lent: Buffer | undefined;
        const done = (): void => {
          file?.close();
          if (lent) spare = lent;
          file = lent = undefined;
        };
        let at = 0;
        const step = (): void => {
          try {
            if (sha256 === undefined && unhashed) whole();
            if (sha256 !== undefined) {
              done();
              return resolve(sha256);
            }
            if (stop?.aborted) {
              done();
              stopped = true;
              if (hashing === started) hashing = undefined;
              return resolve(undefined);
            }
            if (bytes) {
              hash.update(bytes.subarray(at, at + HASH_CHUNK));
              at += HASH_CHUNK;
              if (at < bytes.length) return void setImmediate(step);
            } else {
              // The window hashes what it reads: a window's worth per turn.
              if (file) file.more(file.length);
              else file = openWindow(path, (lent = borrow()), hash);
              if (!file.eof) return void setImmediate(step);
              done();
            }
            const digest = hash.digest('hex');
            read(digest);
            resolve(digest);
          } catch (error) {
            done();
            if (hashing === started) hashing = undefined;
            reject(isSystemError(error) ? unreadableFile(path, error) : error);
          }
        };
        step();
      });
      if (!stopped) hashing = started;
      return started;
    },
    size,
    schema() {
      parsed ??= parseExpectedSchema(whole().toString('utf8'), path);
      return parsed;
    },
    get parsed() {
      return parsed !== undefined;
    },
    exhaustiveHint() {
      return /"exhaustive"\s*:\s*true\b/.test(head());
    },
    schemasHint() {
      const match = /"schemas"\s*:\s*(\[[^\]]*\])/.exec(head());
      if (!match?.[1]) return undefined;
      try {
        const value: unknown = JSON.parse(match[1]);
        const names = Array.isArray(value) ? value : [];
        return names.length > 0 && names.every((n) => typeof n === 'string')
          ? (names as string[])
          : undefined;
      } catch {
        return undefined;
      }
    },
    guideSlices(keyed = true) {
      if (found !== null) return undefined;
      if (bytes) {
        const held = guidedIn(bytes);
        return {
          next: (guide) => held.next(guide),
          end: () => {
            const tables = held.end();
            if (tables) found = tables;
            return tables?.slices;
          },
          close: () => undefined,
        };
      }
      // Hashed to be checked against an earlier read's hash, or for the key a verified state may
      // be recorded under (`keyed`): a first read that nothing will ask the key of hashes nothing
      // (a tenth of the walk's time at 18 MB), and the tables it finds are what a later read is
      // checked against (see `unhashed`).
      const hash = sha256 === undefined && !keyed ? undefined : createHash('sha256');
      const lent = borrow();
      const file = openWindow(path, lent, hash);
      let open = true;
      const close = (): void => {
        if (!open) return;
        open = false;
        file.close();
        spare = lent;
      };
      // Any error ends the read: the file's own ConfigError for a system error.
      const closedOnError = <T>(step: () => T): T => {
        try {
          return step();
        } catch (error) {
          close();
          throw isSystemError(error) ? unreadableFile(path, error) : error;
        }
      };
      const walk = closedOnError(() => new GuidedTables(file));
      return {
        next: (guide) => closedOnError(() => walk.next(guide)),
        end: () =>
          closedOnError(() => {
            const tables = walk.end();
            close();
            if (!tables) return undefined;
            if (hash) read(hash.digest('hex'));
            found = tables;
            if (!hash) {
              unhashed = true;
              // Hashed meanwhile by a read of its own: the file read again, its hash checked
              // against that read's, its tables against this walk's.
              if (sha256 !== undefined) {
                const again = readThrough((window) => scanTables(window));
                if (!again || !sameTables(again.value, tables)) throw changedWhileRead(path);
              }
            }
            return tables.slices;
          }),
        close,
      };
    },
    tableAfter(fraction) {
      const at = Math.floor(size * fraction);
      try {
        const piece = bytes
          ? bytes.subarray(at, at + HEAD_BYTES)
          : readAtSync(path, at, HEAD_BYTES);
        return firstTableIn(piece);
      } catch {
        // Read again for its tables, where the error is the file's.
        return undefined;
      }
    },
    tableSlices() {
      if (found !== null) return found?.slices;
      if (bytes) {
        found = findTables(bytes);
      } else {
        // Read to its end when its tables are found (their tail): the whole file's hash is
        // then the file's, checked against any taken before.
        found = readThrough((file) => scanTables(file))?.value;
      }
      return found?.slices;
    },
    schemaWithout(vouched) {
      // All of the file's tables (the very slices of tableSlices, none left out as written
      // twice): the file without its tables' content, a few kilobytes to parse, where the rest
      // with a marker per table is hundreds.
      const all = found?.slices;
      if (found?.all && vouched.length === all?.length && vouched.every((s, i) => s === all[i]))
        return parseWithoutTables(found.head, found.tail, path, () => this.schema());
      return parseWithout(whole(), vouched, path, () => this.schema());
    },
  };
}

/** A window through the file at `path` (read-whole.ts), its errors the file's own ConfigError. */
function openWindow(path: string, buffer: Buffer, hash: Hash | undefined): FileWindow {
  try {
    return new FileWindow(path, buffer, hash);
  } catch (error) {
    throw unreadableFile(path, error);
  }
}

function changedWhileRead(path: string): ConfigError {
  return new ConfigError([
    `expected-schema file ${path} changed while it was being read: run again once it is written`,
  ]);
}

/** A table object that no file holds: it marks where a vouched table's bytes were. */
function vouchedMark(): { key: string; text: Buffer } {
  const key = `vouched ${randomBytes(8).toString('hex')}`;
  return { key, text: Buffer.from(`{"${key}":true}`) };
}

/** ExpectedSource.schemaWithout; `whole` parses the whole file (for its error's position). */
function parseWithout(
  bytes: Buffer,
  vouched: readonly TableSlice[],
  source: string,
  whole: () => ExpectedSchema,
): ExpectedSchema | undefined {
  const mark = vouchedMark();
  // Each vouched table must be its marker, where the table was.
  const marked = (tables: Record<string, unknown>): readonly string[] | undefined => {
    for (const { name } of vouched) {
      const table = tables[name];
      if (!isPlainObject(table) || Object.keys(table).length !== 1 || table[mark.key] !== true)
        return undefined;
    }
    return vouched.map(({ name }) => name);
  };
  return parseRest(withoutSlices(bytes, vouched, mark.text), marked, source, whole);
}

/**
 * ExpectedSource.schemaWithout of all the file's tables: the file with the content of its `tables`
 * (between `head` and `tail`, see FoundTables) replaced by a marker, parsed and validated (see parseRest). Undefined when the
 * parse shows that `tables` is not what the file means by it (a second `tables` key).
 */
function parseWithoutTables(
  head: Buffer,
  tail: Buffer,
  source: string,
  whole: () => ExpectedSchema,
): ExpectedSchema | undefined {
  const { key } = vouchedMark();
  const rest = Buffer.concat([head, Buffer.from(`"${key}": true`), tail]);
  // The marker must be all that `tables` holds.
  const marked = (tables: Record<string, unknown>): readonly string[] | undefined =>
    Object.keys(tables).length === 1 && tables[key] === true ? [key] : undefined;
  return parseRest(rest, marked, source, whole);
}

/**
 * The rest of a file (its vouched tables replaced by markers) parsed, its `tables` checked by
 * `marked` (the keys of the markers, or undefined when they are not where the tables were: the
 * file is then parsed whole by the caller), the markers taken out, the rest validated; throws
 * ConfigError as schema() does. `whole` parses the whole file, for a syntax error's position.
 */
function parseRest(
  rest: Buffer,
  marked: (tables: Record<string, unknown>) => readonly string[] | undefined,
  source: string,
  whole: () => ExpectedSchema,
): ExpectedSchema | undefined {
  let value: unknown;
  try {
    value = JSON.parse(rest.toString('utf8'));
  } catch {
    // The vouched slices are whole JSON objects where the file has values: the whole file is no
    // more valid than its rest, and its parse says where, in the file's own lines.
    whole();
    return undefined;
  }
  const tables = isPlainObject(value) && isPlainObject(value.tables) ? value.tables : undefined;
  const marks = tables ? marked(tables) : undefined;
  if (!tables || !marks) return undefined;
  for (const key of marks) delete tables[key];
  const problems = validateExpectedSchema(value);
  if (problems.length > 0) throw new ConfigError(problems.map((p) => `${source}: ${p}`));
  return value as ExpectedSchema;
}

/** An expected-schema file's read, started before it is needed: for a read of that very path. */
export interface ReadAhead {
  readonly path: string;
  /** The file as read; undefined when it does not exist; rejects as readExpectedSource does. */
  readonly source: Promise<ExpectedSource | undefined>;
}

/**
 * readExpectedSourceIfExists started now, for a command that reads the file later (verify, status:
 * see loadExpected): the read runs while the command loads and connects.
 */
export function readAhead(path: string, started?: Promise<FileStart>): ReadAhead {
  const source = readExpectedSourceIfExists(path, started);
  // Awaited by the command that takes it; one that does not must not leave it unhandled.
  source.catch(() => undefined);
  return { path, source };
}

/** Like readExpectedSource, but undefined when the file does not exist (a skippable default). */
export async function readExpectedSourceIfExists(
  path: string,
  started?: Promise<FileStart>,
  sizes?: ReadSizes,
): Promise<ExpectedSource | undefined> {
  try {
    return await readExpectedSource(path, started, sizes);
  } catch (error) {
    return absentOrThrow(error);
  }
}

/** Like readExpectedSourceNow, but undefined when the file does not exist. */
export function readExpectedSourceNowIfExists(path: string): ExpectedSource | undefined {
  try {
    return readExpectedSourceNow(path);
  } catch (error) {
    return absentOrThrow(error);
  }
}

function absentOrThrow(error: unknown): undefined {
  if (error instanceof ConfigError && isNotFound(error.cause)) return undefined;
  throw error;
}

function unreadableFile(path: string, error: unknown): ConfigError {
  return new ConfigError([`expected-schema file ${path} ${unreadable(error)}`], { cause: error });
}

function unreadable(error: unknown): string {
  return isNotFound(error) ? 'does not exist' : `cannot be read (${String(error)})`;
}

/**
 * Reads and validates an expected-schema file. Throws ConfigError (exit 2) when the file cannot
 * be read (the ENOENT error is the `cause` when it does not exist), is not valid JSON (with line
 * and column), or does not fit the format (every problem listed, with its location).
 */
export async function loadExpectedSchema(path: string): Promise<ExpectedSchema> {
  return (await readExpectedSource(path)).schema();
}

/** Like loadExpectedSchema, but undefined when the file does not exist (a skippable default). */
export async function readExpectedSchemaIfExists(
  path: string,
): Promise<ExpectedSchema | undefined> {
  return (await readExpectedSourceIfExists(path))?.schema();
}

/** Parses and validates expected-schema JSON; `source` names the file in problems. */
export function parseExpectedSchema(text: string, source: string): ExpectedSchema {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError([`${source}: ${jsonProblem(text, error)}`], { cause: error });
  }
  const problems = validateExpectedSchema(value);
  if (problems.length > 0) throw new ConfigError(problems.map((p) => `${source}: ${p}`));
  // Validated just above: asExpectedSchema would walk a file of thousands of tables a second time.
  return value as ExpectedSchema;
}

/**
 * `invalid JSON at line 3, column 7: Unexpected token ...`, from V8's "at position N", or where
 * the text first breaks the grammar when V8 does not say.
 */
function jsonProblem(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const position = /at position (\d+)/.exec(message);
  const offset = position ? Number(position[1]) : firstSyntaxError(text);
  if (offset === undefined) return `invalid JSON: ${message}`;
  const before = text.slice(0, offset).split('\n');
  const line = before.length;
  const column = (before[before.length - 1]?.length ?? 0) + 1;
  const reason = message
    .replace(/\s*in JSON at position \d+.*$/, '')
    .replace(/\s*\(line \d+ column \d+\)$/, '');
  return `invalid JSON at line ${line}, column ${column}: ${reason}`;
}

/** An error of the system's (a failed open or read: ENOENT, EIO, EISDIR...). */
function isSystemError(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
  );
}

function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT';
}

/** The order of the top-level keys in a written file; everything below is sorted by name. */
const TOP_ORDER = [
  '$schema',
  'version',
  'exhaustive',
  'schemas',
  'tables',
  'functions',
  'views',
  'sequences',
  'enums',
  'extensions',
  'assertions',
];

/** The file text for a schema: 2-space indent, keys in a stable order, trailing newline. */
export function formatExpectedSchema(schema: ExpectedSchema): string {
  const rank = (key: string): number => {
    const at = TOP_ORDER.indexOf(key);
    return at === -1 ? TOP_ORDER.length : at;
  };
  const sorted = sortKeys(schema) as Record<string, unknown>;
  const top = Object.keys(sorted).sort((a, b) => rank(a) - rank(b) || byCodePoint(a, b));
  const ordered = Object.fromEntries(top.map((key) => [key, sorted[key]]));
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

/** Writes the file atomically (temporary file, then rename), so a crash leaves the old one. */
export async function writeExpectedSchema(path: string, schema: ExpectedSchema): Promise<void> {
  const temporary = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, formatExpectedSchema(schema), 'utf8');
  await rename(temporary, path);
}

/** Objects with sorted keys, recursively; arrays keep their order (enum labels, assertions). */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  entries.sort(([a], [b]) => byCodePoint(a, b));
  return Object.fromEntries(entries.map(([k, v]) => [k, sortKeys(v)]));
}

/**
 * A new snapshot keeping what a person wrote in the previous file: its `assertions` and its
 * `$schema` editor hint. Everything else comes from the new snapshot.
 */
export function mergeAssertions(
  previous: ExpectedSchema | undefined,
  next: ExpectedSchema,
): ExpectedSchema {
  if (!previous) return next;
  return {
    ...(previous.$schema === undefined ? {} : { $schema: previous.$schema }),
    ...next,
    ...(previous.assertions === undefined ? {} : { assertions: previous.assertions }),
  };
}
