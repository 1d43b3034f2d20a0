import {
  isNonEmptyText,
  isTextList,
  ROOT_PROPS,
  TOP,
  type Check,
  type EntrySpec,
} from './expected-rules.js';
import { DEFAULT_SCHEMAS, type ExpectedSchema } from './types.js';

/**
 * Hand-written validation of the expected-schema format (no JSON Schema engine at run time).
 * Every problem is collected with a JSON-path-like location, e.g.
 * `tables."public.users".columns.bio.nullable: expected a boolean, got "yes"`.
 */

/** Every problem with a parsed expected-schema document; the document is valid when none. */
export function validateExpectedSchema(value: unknown): string[] {
  const problems: string[] = [];
  if (!isPlainObject(value)) {
    return [`the file must hold a JSON object, got ${describe(value)}`];
  }
  const schemas = validateSchemas(value.schemas, problems) ?? DEFAULT_SCHEMAS;
  for (const [key, item] of Object.entries(value)) {
    const at = locate(undefined, key);
    const check = own(ROOT_PROPS, key);
    const top = own(TOP, key);
    if (check) expect(problems, at, item, check);
    else if (top)
      validateNamed(problems, at, item, top.spec, (name) => keyProblem(name, top.key, schemas));
    else if (key === 'assertions') validateAssertions(problems, item);
    else if (key !== 'schemas')
      problems.push(
        unknownProperty(at, [
          ...Object.keys(ROOT_PROPS),
          'schemas',
          ...Object.keys(TOP),
          'assertions',
        ]),
      );
  }
  return problems;
}

/** Narrows a document that `validateExpectedSchema` found no problem with. */
export function asExpectedSchema(value: unknown): ExpectedSchema {
  if (validateExpectedSchema(value).length > 0) throw new TypeError('not a valid expected schema');
  return value as ExpectedSchema;
}

function validateSchemas(value: unknown, problems: string[]): readonly string[] | undefined {
  if (value === undefined) return undefined;
  const wrong = isTextList(value);
  if (wrong !== undefined || !Array.isArray(value) || value.length === 0) {
    problems.push(`schemas: expected a non-empty array of strings, got ${describe(value)}`);
    return undefined;
  }
  const names = value as string[];
  for (const name of duplicates(names)) problems.push(`schemas: "${name}" is listed twice`);
  return names;
}

function keyProblem(
  name: string,
  rule: 'qualified' | 'function' | 'bare',
  schemas: readonly string[],
): string | undefined {
  if (rule === 'bare') return name.trim() === '' ? 'the name is empty' : undefined;
  const dot = name.indexOf('.');
  if (dot <= 0 || dot === name.length - 1) {
    return `the name must be schema-qualified, e.g. "public.${name}"`;
  }
  if (rule === 'function' && !/\(.*\)$/.test(name)) {
    return `a function is named with its argument types, e.g. "${name}()" or "${name}(integer, text)"`;
  }
  const schema = name.slice(0, dot);
  if (!schemas.includes(schema)) {
    return `schema "${schema}" is not in "schemas" (${schemas.join(', ')}): add it there, or fix the name`;
  }
  return undefined;
}

/**
 * Where a value sits in the document, rendered (`tables."public.users".columns.bio`) only when a
 * problem names it: a valid file of thousands of tables then builds no path strings at all.
 */
class Location {
  constructor(
    private readonly parent: Location | undefined,
    private readonly key: string,
  ) {}

  toString(): string {
    return pathOf(this.parent === undefined ? '' : this.parent.toString(), this.key);
  }
}

type At = Location | string;

function locate(parent: Location | undefined, key: string): Location {
  return new Location(parent, key);
}

/** A collection written as an object of entries or as an array of names. */
function validateNamed(
  problems: string[],
  at: Location,
  value: unknown,
  spec: EntrySpec,
  checkKey: (name: string) => string | undefined = () => undefined,
): void {
  if (Array.isArray(value)) {
    value.forEach((name, i) => {
      if (typeof name !== 'string')
        problems.push(`${at}[${i}]: expected a name, got ${describe(name)}`);
      else addKeyProblem(problems, `${at}[${i}]`, checkKey(name));
    });
    for (const name of duplicates(value.filter((n) => typeof n === 'string'))) {
      problems.push(`${at}: "${name}" is listed twice`);
    }
    return;
  }
  if (!isPlainObject(value)) {
    problems.push(
      `${at}: expected an object of named entries or an array of names, got ${describe(value)}`,
    );
    return;
  }
  for (const name in value) {
    if (!Object.hasOwn(value, name)) continue;
    const entryAt = locate(at, name);
    addKeyProblem(problems, entryAt, checkKey(name));
    validateEntry(problems, entryAt, value[name], spec);
  }
}

function addKeyProblem(problems: string[], at: At, problem: string | undefined): void {
  if (problem !== undefined) problems.push(`${at}: ${problem}`);
}

function validateEntry(problems: string[], at: Location, value: unknown, spec: EntrySpec): void {
  if (!isPlainObject(value)) {
    problems.push(`${at}: expected an object, got ${describe(value)}`);
    return;
  }
  // for...in and a check before any location: this loop runs for every object of the file.
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const item = value[key];
    const check = own(spec.props, key);
    if (check) {
      if (check(item) !== undefined) expect(problems, locate(at, key), item, check);
      continue;
    }
    const child = spec.collections && own(spec.collections, key);
    if (child) validateNamed(problems, locate(at, key), item, child);
    else
      problems.push(
        unknownProperty(locate(at, key), [
          ...Object.keys(spec.props),
          ...Object.keys(spec.collections ?? {}),
        ]),
      );
  }
}

function validateAssertions(problems: string[], value: unknown): void {
  if (!Array.isArray(value)) {
    problems.push(`assertions: expected an array of { "name", "sql" }, got ${describe(value)}`);
    return;
  }
  value.forEach((item, i) => {
    const at = `assertions[${i}]`;
    if (!isPlainObject(item)) {
      problems.push(`${at}: expected an object with "name" and "sql", got ${describe(item)}`);
      return;
    }
    expect(problems, `${at}.name`, item.name, isNonEmptyText);
    expect(problems, `${at}.sql`, item.sql, isNonEmptyText);
    for (const key of Object.keys(item)) {
      if (key !== 'name' && key !== 'sql')
        problems.push(unknownProperty(`${at}.${key}`, ['name', 'sql']));
    }
  });
  const names = value.flatMap((item) =>
    isPlainObject(item) && typeof item.name === 'string' ? [item.name] : [],
  );
  for (const name of duplicates(names))
    problems.push(`assertions: the name "${name}" is used twice`);
}

function expect(problems: string[], at: At, value: unknown, check: Check): void {
  const wanted = check(value);
  if (wanted !== undefined) problems.push(`${at}: expected ${wanted}, got ${describe(value)}`);
}

function unknownProperty(at: At, allowed: readonly string[]): string {
  return `${at}: unknown property (expected one of: ${allowed.join(', ')})`;
}

/** `parent.key`, quoting keys that are not plain identifiers: `tables."public.users"`. */
export function pathOf(parent: string, key: string): string {
  const part = /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key);
  return parent === '' ? part : `${parent}.${part}`;
}

/** A value as a problem quotes it: `"yes"`, `3`, `null`, `an array`, `an object`. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (isPlainObject(value)) return 'an object';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** `record[key]` when it is the record's own property (never `constructor` and friends). */
function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** A JSON object (not null, not a list). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function duplicates(names: readonly string[]): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const name of names) (seen.has(name) ? twice : seen).add(name);
  return [...twice];
}
