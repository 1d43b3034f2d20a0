import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import {
  isNonTransactional,
  isTransactionControl,
  lineAndColumn,
  splitStatements,
} from '../migrations/lexer.js';
import { parseJsonText } from './json-text.js';
import type { RowsSeedFile, SeedFile } from './types.js';
import { validateSeedDocument } from './validate.js';

export type { RowsSeedFile, SeedFile, SeedMode, SeedRow, SqlSeedFile } from './types.js';

const BOM = '\uFEFF';
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** How a seed file is named in messages: its folder and name, e.g. `seeds/010_system_roles.json`. */
/** The declarative (JSON) seeds among `seeds`, in order. */
export function declarativeSeeds(seeds: readonly SeedFile[]): RowsSeedFile[] {
  return seeds.filter((s): s is RowsSeedFile => s.kind === 'rows');
}

export function seedLabel(file: { readonly path: string; readonly name: string }): string {
  return `${path.basename(path.dirname(file.path))}/${file.name}`;
}

/** The seed files of a directory (`*.sql`, `*.json`, following symlinks), ordered by name as plain text. */
function listSeedFiles(dir: string, problems: string[]): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError([`seeds directory ${dir} cannot be read: ${reason}`]);
  }
  const files = names.filter((name) => {
    if (!name.endsWith('.sql') && !name.endsWith('.json')) return false;
    try {
      return statSync(path.join(dir, name)).isFile();
    } catch {
      problems.push(`${path.basename(dir)}/${name} is a symbolic link to nothing`);
      return false;
    }
  });
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Reads a file as UTF-8 text, or records why it cannot be. */
function readText(file: string, label: string, problems: string[]): string | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    problems.push(`${label} cannot be read: ${reason}`);
    return undefined;
  }
  try {
    return utf8.decode(bytes);
  } catch {
    problems.push(`${label} is not valid UTF-8: save it as UTF-8`);
    return undefined;
  }
}

/** Statements that would break the one seed transaction: BEGIN/COMMIT, CREATE INDEX CONCURRENTLY, ... */
function checkSqlSeed(label: string, sql: string, problems: string[]): void {
  for (const statement of splitStatements(sql)) {
    const where = `${label}:${statement.line}:${statement.column}`;
    const head = statement.text.split(/\s+/).slice(0, 3).join(' ');
    if (isTransactionControl(statement.text)) {
      problems.push(
        `${where}: ${head} is not allowed in a seed: all seeds run in one transaction that preflight opens and commits; remove it`,
      );
    } else if (isNonTransactional(statement.text)) {
      problems.push(
        `${where}: ${head} cannot run inside the seed transaction: move it to a migration`,
      );
    }
  }
}

/** Parses and validates a declarative seed file's text, or records every problem. */
function parseRowsSeed(
  file: string,
  name: string,
  text: string,
  problems: string[],
): SeedFile | undefined {
  const label = seedLabel({ path: file, name });
  const body = text.startsWith(BOM) ? text.slice(1) : text;
  const parsed = parseJsonText(body);
  if (!parsed.ok) {
    const { line, column } = lineAndColumn(body, parsed.error.offset);
    problems.push(`${label}:${line}:${column}: malformed JSON: ${parsed.error.message}`);
    return undefined;
  }
  const document = validateSeedDocument(parsed.value);
  if ('problems' in document) {
    problems.push(...document.problems.map((p) => `${label}: ${p}`));
    return undefined;
  }
  return { kind: 'rows', name, path: file, ...document };
}

/**
 * Reads the seeds directory: `*.sql` and `*.json` files in file-name order (plain text), other
 * files ignored. Throws one ConfigError listing every problem of every file.
 */
export function readSeeds(dir: string): SeedFile[] {
  const problems: string[] = [];
  const seeds: SeedFile[] = [];
  for (const name of listSeedFiles(dir, problems)) {
    const file = path.join(dir, name);
    const label = seedLabel({ path: file, name });
    const text = readText(file, label, problems);
    if (text === undefined) continue;
    if (name.endsWith('.json')) {
      const seed = parseRowsSeed(file, name, text, problems);
      if (seed) seeds.push(seed);
    } else {
      checkSqlSeed(label, text, problems);
      seeds.push({ kind: 'sql', name, path: file, sql: text });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return seeds;
}
