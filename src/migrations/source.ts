import { isUtf8 } from 'node:buffer';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { flatChecksum, prismaChecksum } from './checksum.js';
import { hasNoTransactionMarker } from './lexer.js';
import { migrationBody } from './sections.js';
import type { Layout, MigrationFile, MigrationSet } from './types.js';

// `<version>_<name>.sql`, golang-migrate's `.up.sql` (its `.down.sql` never runs), dbmate's `-`.
const FLAT_FILE = /^(\d+)(?:[_-].*?)?(?:\.up)?\.sql$/;
const FLAT_DOWN = /^\d+(?:[_-].*)?\.down\.sql$/;

export interface Entry {
  readonly name: string;
  readonly isFile: boolean;
  readonly isDirectory: boolean;
}

/** Lists a directory, following symlinks; a dangling link is reported as a problem. */
function listEntries(dir: string, problems: string[]): Entry[] {
  const dirents = readdirSync(dir, { withFileTypes: true }).sort((a, b) => comparePrismaNames(a.name, b.name));
  return dirents.flatMap((dirent): Entry[] => {
    if (!dirent.isSymbolicLink()) {
      return [{ name: dirent.name, isFile: dirent.isFile(), isDirectory: dirent.isDirectory() }];
    }
    try {
      const stat = statSync(path.join(dir, dirent.name));
      return [{ name: dirent.name, isFile: stat.isFile(), isDirectory: stat.isDirectory() }];
    } catch {
      problems.push(`${path.join(dir, dirent.name)} is a symbolic link to nothing`);
      return [];
    }
  });
}

/**
 * Reads a migration as UTF-8 text; the byte-order mark is kept for the checksum. Read straight
 * into a string (a Buffer per file costs megabytes of peak memory over hundreds of files); only
 * a text with U+FFFD, what invalid bytes decode to, is read again to check its bytes.
 */
function readSql(file: string, problems: string[]): string | undefined {
  try {
    const text = readFileSync(file, 'utf8');
    if (text.includes('\uFFFD') && !isUtf8(readFileSync(file))) {
      problems.push(`${file} is not valid UTF-8: save it as UTF-8`);
      return undefined;
    }
    return text;
  } catch (error) {
    problems.push(`${file} cannot be read: ${(error as Error).message}`);
    return undefined;
  }
}

/** Detects the layout: prisma when any sub-folder holds migration.sql or a migration_lock.toml exists. */
export function detectLayout(dir: string, entries: readonly Entry[]): Layout {
  if (entries.some((e) => e.isFile && e.name === 'migration_lock.toml')) return 'prisma';
  const hasFolder = entries.some((e) => e.isDirectory && isFileSafe(path.join(dir, e.name, 'migration.sql')));
  return hasFolder ? 'prisma' : 'flat';
}

function isFileSafe(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Orders flat versions as numbers (`9_x` before `10_x`), as golang-migrate does. Versions written
 * as listFlat writes them (decimal, no leading zero) compare without BigInt: the shorter is the
 * smaller, and equal lengths compare as text.
 */
export function compareFlatVersions(a: string, b: string): number {
  if (CANONICAL.test(a) && CANONICAL.test(b)) {
    if (a.length !== b.length) return a.length < b.length ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

const CANONICAL = /^(?:0|[1-9]\d*)$/;

/**
 * Orders prisma folders by name as plain text, byte by byte, as Prisma's engine does (Rust's
 * `str` order): `20210101_x` sorts after every `20210101hhmmss_y` of that day, `0_init` first.
 */
export function comparePrismaNames(a: string, b: string): number {
  // UTF-16 order is UTF-8's byte order but for surrogates (above U+FFFF) against U+E000..U+FFFF:
  // names without such characters (nearly all: ASCII) compare as plain strings.
  if (!WIDE.test(a) && !WIDE.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A character where UTF-16 order and UTF-8 byte order may differ. */
const WIDE = /[\uD800-\uDFFF\uE000-\uFFFF]/;

/**
 * A migration file as read: its checksum by the layout's rule, and its body to execute, worked
 * out when first asked for (only pending files are ever run: hundreds of applied ones are not
 * lexed on every deploy).
 */
function migrationFile(
  layout: Layout,
  id: string,
  name: string,
  prefix: string,
  relativePath: string,
  sql: string,
): MigrationFile {
  let body: ReturnType<typeof migrationBody> | undefined;
  const sections = (): ReturnType<typeof migrationBody> => (body ??= migrationBody(sql));
  return {
    id,
    name,
    relativePath,
    path: prefix + relativePath,
    sql,
    get body() {
      return sections().sql;
    },
    get noTransaction() {
      return sections().noTransaction || hasNoTransactionMarker(sql);
    },
    checksum: layout === 'prisma' ? prismaChecksum(sql) : flatChecksum(sql),
  };
}

/** A migration found in the directory, not read yet. */
export interface ListedMigration {
  readonly id: string;
  readonly name: string;
  readonly relativePath: string;
}

/** The migrations directory listed and checked by name: what readListedMigrations reads. */
export interface MigrationListing {
  readonly layout: Layout;
  readonly dir: string;
  /** In the order they apply. */
  readonly migrations: readonly ListedMigration[];
  readonly warnings: readonly string[];
}

/**
 * Reads and orders the migrations directory. Throws ConfigError listing every problem: both
 * layouts mixed, duplicate versions, unreadable or non-UTF-8 files, dangling links.
 */
export function readMigrations(dir: string): MigrationSet {
  return readListedMigrations(listMigrations(dir));
}

/**
 * Lists the migrations directory without reading the files: layout, names, order, and the
 * problems that names and the directory show (ConfigError), as readMigrations would.
 */
export function listMigrations(dir: string | MigrationsDirectory): MigrationListing {
  const opened = typeof dir === 'string' ? readMigrationsDirectory(dir) : dir;
  const problems = [...opened.problems];
  const listing =
    opened.layout === 'flat'
      ? listFlat(opened.dir, opened.entries, problems)
      : listPrisma(opened.dir, opened.entries, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return listing;
}

/** The migrations directory's entries and layout (which names the lock), before any name is checked. */
export interface MigrationsDirectory {
  readonly dir: string;
  readonly layout: Layout;
  readonly entries: readonly Entry[];
  /** Problems found in the entries (dangling links), thrown by listMigrations with the rest. */
  readonly problems: readonly string[];
}

/** Reads the directory and detects its layout; ConfigError when it cannot be read. */
export function readMigrationsDirectory(dir: string): MigrationsDirectory {
  const problems: string[] = [];
  let entries: Entry[];
  try {
    entries = listEntries(dir, problems);
  } catch (error) {
    throw new ConfigError([`migrations directory ${dir} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`]);
  }
  return { dir, layout: detectLayout(dir, entries), entries, problems };
}

/** Reads the listed files (ConfigError for unreadable or non-UTF-8 ones, all listed). */
export function readListedMigrations(listing: MigrationListing): MigrationSet {
  const problems: string[] = [];
  const files: MigrationFile[] = [];
  // One normalised prefix, instead of a path.join per file (milliseconds over hundreds of files).
  const prefix = path.join(listing.dir, path.sep);
  for (const { id, name, relativePath } of listing.migrations) {
    const sql = readSql(prefix + relativePath, problems);
    if (sql !== undefined) files.push(migrationFile(listing.layout, id, name, prefix, relativePath, sql));
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { layout: listing.layout, dir: listing.dir, files, warnings: listing.warnings };
}

function listFlat(dir: string, entries: readonly Entry[], problems: string[]): MigrationListing {
  const warnings: string[] = [];
  const migrations: ListedMigration[] = [];
  const seen = new Map<string, string>();
  for (const entry of entries) {
    if (!entry.isFile || !entry.name.endsWith('.sql') || FLAT_DOWN.test(entry.name)) continue;
    const match = FLAT_FILE.exec(entry.name);
    if (!match) {
      warnings.push(`${entry.name} skipped: a migration is named <version>_<name>.sql, e.g. 0001_create_users.sql`);
      continue;
    }
    const id = BigInt(match[1] as string).toString();
    const other = seen.get(id);
    if (other) {
      problems.push(`duplicate migration version ${id}: ${other} and ${entry.name}; give one of them the next free version`);
      continue;
    }
    seen.set(id, entry.name);
    migrations.push({ id, name: entry.name, relativePath: entry.name });
  }
  migrations.sort((a, b) => compareFlatVersions(a.id, b.id));
  return { layout: 'flat', dir, migrations, warnings };
}

const POSTGRES_PROVIDERS = new Set(['postgresql', 'postgres', 'cockroachdb']);

/** The provider named in migration_lock.toml, as Prisma reads it; undefined when there is none. */
function lockedProvider(dir: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path.join(dir, 'migration_lock.toml'), 'utf8');
  } catch {
    return undefined;
  }
  const line = text.split(/\r?\n/).find((l) => l.startsWith('provider'));
  return line?.replace(/^provider\s*=\s*/, '').trim().replace(/^"|"$/g, '');
}

function listPrisma(dir: string, entries: readonly Entry[], problems: string[]): MigrationListing {
  const warnings: string[] = [];
  const migrations: ListedMigration[] = [];
  const flat = entries.filter((e) => e.isFile && FLAT_FILE.test(e.name));
  if (flat.length > 0) {
    problems.push(
      `${dir} mixes both layouts: prisma folders and flat files (${flat.map((e) => e.name).slice(0, 3).join(', ')}); keep one layout per directory`,
    );
  }
  const provider = lockedProvider(dir);
  if (provider !== undefined && !POSTGRES_PROVIDERS.has(provider)) {
    problems.push(
      `${path.join(dir, 'migration_lock.toml')} says provider = "${provider}": these migrations were written for another database, not PostgreSQL (Prisma's P3019)`,
    );
  }
  for (const entry of entries) {
    if (!entry.isDirectory) continue;
    const file = path.join(dir, entry.name, 'migration.sql');
    if (!isFileSafe(file)) {
      warnings.push(`${entry.name}/ skipped: it has no migration.sql`);
      continue;
    }
    migrations.push({ id: entry.name, name: entry.name, relativePath: path.join(entry.name, 'migration.sql') });
  }
  migrations.sort((a, b) => comparePrismaNames(a.id, b.id));
  return { layout: 'prisma', dir, migrations, warnings };
}
