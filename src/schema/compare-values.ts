import { byCodePoint } from './types.js';

/**
 * How compare decides that two property values are the same, and how it prints a difference.
 * Definitions are compared with whitespace collapsed (the server reformats function bodies and
 * view definitions); type names accept the common aliases of hand-written files (`varchar(255)`,
 * `timestamptz`, `int`).
 */

/** Collapses every run of whitespace to one space and trims the ends. */
export function collapseWhitespace(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

const TYPE_ALIASES: Readonly<Record<string, string>> = {
  int: 'integer',
  int4: 'integer',
  int8: 'bigint',
  int2: 'smallint',
  bool: 'boolean',
  float8: 'double precision',
  float4: 'real',
  float: 'double precision',
  decimal: 'numeric',
  varchar: 'character varying',
  char: 'character',
  bpchar: 'character',
  varbit: 'bit varying',
  timestamptz: 'timestamp with time zone',
  timestamp: 'timestamp without time zone',
  timetz: 'time with time zone',
  time: 'time without time zone',
};

/** The name `format_type` would print for a type as a person may write it (`varchar(255)`). */
export function canonicalType(type: string): string {
  const text = collapseWhitespace(type);
  const match = /^(\w+)\s*(\(\s*\d+\s*(?:,\s*-?\d+\s*)?\))?((?:\[\])*)$/.exec(text);
  if (!match) return text;
  const [, base = '', modifier = '', arrays = ''] = match;
  const typmod = modifier.replace(/\s+/g, '');
  // An unquoted name folds to lower case, as the server folds it.
  const canonical = TYPE_ALIASES[base.toLowerCase()] ?? base.toLowerCase();
  // `timestamp(3) with time zone`: the modifier goes after the first word, before `with...`.
  const withZone = canonical.indexOf(' with');
  const named =
    typmod && withZone > 0
      ? `${canonical.slice(0, withZone)}${typmod}${canonical.slice(withZone)}`
      : `${canonical}${typmod}`;
  return `${named}${arrays}`;
}

/** True when a wanted property value matches what the database has. */
export function sameValue(property: string, want: unknown, have: unknown): boolean {
  // The common case of a no-op run (a snapshot of the same server): equal without normalising.
  if (want === have) return true;
  if (want === null || have === null) return false;
  if (Array.isArray(want) && Array.isArray(have)) {
    if (want.length !== have.length) return false;
    // Policy roles are a set; enum labels are ordered.
    const [w, h] = property === 'roles' ? [sorted(want), sorted(have)] : [want, have];
    return w.every((value, i) => sameValue(property, value, h[i]));
  }
  if (isText(want) && isText(have)) {
    if (property === 'type') return canonicalType(String(want)) === canonicalType(String(have));
    return collapseWhitespace(String(want)) === collapseWhitespace(String(have));
  }
  return want === have;
}

function isText(value: unknown): value is string | number {
  return typeof value === 'string' || typeof value === 'number';
}

function sorted(values: readonly unknown[]): unknown[] {
  return values.map((v) => String(v)).sort(byCodePoint);
}

/** A value as a report line shows it: text bare, arrays as `[a, b]`, null as `null`. */
export function formatValue(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(formatValue).join(', ')}]`;
  if (typeof value === 'string') return value;
  return JSON.stringify(value) ?? String(value);
}

const SHORT = 60;

/** `type is text, expected integer`, or for long definitions the part where they differ. */
export function describeDifference(property: string, have: unknown, want: unknown): string {
  const haveText = formatValue(have);
  const wantText = formatValue(want);
  const verb = Array.isArray(have) ? 'are' : 'is';
  if (haveText.length <= SHORT && wantText.length <= SHORT) {
    return `${property} ${verb} ${haveText}, expected ${wantText}`;
  }
  const [haveSnippet, wantSnippet] = snippets(
    collapseWhitespace(haveText),
    collapseWhitespace(wantText),
  );
  return `${property} differs: have "${haveSnippet}", want "${wantSnippet}"`;
}

/** The neighbourhood of the first character at which two texts differ. */
function snippets(have: string, want: string): [string, string] {
  let at = 0;
  while (at < have.length && at < want.length && have[at] === want[at]) at += 1;
  const start = Math.max(0, at - 25);
  const cut = (text: string): string => {
    const end = Math.min(text.length, at + 35);
    return `${start > 0 ? '…' : ''}${text.slice(start, end)}${end < text.length ? '…' : ''}`;
  };
  return [cut(have), cut(want)];
}

/** Double-quotes an identifier when SQL needs it to. */
export function quoteIdentifier(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}
