import { redactSecret } from '../config/database-url.js';
import { lineAndColumn } from './lexer.js';

/** The fields of a Postgres error that a human needs, as node-postgres exposes them. */
export interface PgErrorFields {
  readonly message: string;
  readonly code?: string;
  readonly position?: string;
  readonly detail?: string;
  readonly hint?: string;
  readonly where?: string;
  readonly internalPosition?: string;
  readonly internalQuery?: string;
}

/** Where in the file an error is, and the failing line with a caret under the column. */
export interface SqlErrorLocation {
  readonly line: number;
  readonly column: number;
  readonly excerpt: string;
}

/**
 * Locates an error in the file from the server's 1-based character `position`, counted in the
 * text that was sent; `offset` is where that text starts in the file.
 */
export function locateSqlError(sql: string, position: number, offset = 0): SqlErrorLocation {
  const index = Math.min(Math.max(0, offset + position - 1), sql.length);
  const { line, column } = lineAndColumn(sql, index);
  const lines = sql.split(/\r?\n/);
  const text = (lines[line - 1] ?? '').replace(/\t/g, ' ');
  const gutter = `${line} | `;
  const excerpt = `    ${gutter}${text}\n    ${' '.repeat(gutter.length - 2)}| ${' '.repeat(Math.max(0, column - 1))}^`;
  return { line, column, excerpt };
}

/** Whether a thrown value carries Postgres error fields. */
export function isPgError(error: unknown): error is PgErrorFields & Error {
  return error instanceof Error && typeof (error as { code?: unknown }).code === "string" && /^[0-9A-Z]{5}$/.test(String((error as unknown as { code: string }).code));
}

/**
 * Formats a SQL error for the report: file, line and column, SQLSTATE, message, detail, hint,
 * and the failing line with a caret. The password is scrubbed from everything.
 */
export function formatSqlError(
  fileName: string,
  sql: string,
  error: PgErrorFields,
  offset = 0,
  password?: string,
): { text: string; location: SqlErrorLocation | undefined } {
  const position = error.position ? Number(error.position) : undefined;
  const location = position ? locateSqlError(sql, position, offset) : offset > 0 ? locateSqlError(sql, 1, offset) : undefined;
  const where = location ? `${fileName}:${location.line}:${location.column}` : fileName;
  const parts = [`${where}: ${error.message}${error.code ? ` (SQLSTATE ${error.code})` : ''}`];
  if (error.detail) parts.push(`  detail: ${error.detail}`);
  if (error.hint) parts.push(`  hint: ${error.hint}`);
  if (error.where) parts.push(`  where: ${error.where.split('\n')[0]}`);
  if (error.internalQuery && error.internalPosition) {
    parts.push(`  in: ${error.internalQuery.replace(/\s+/g, ' ').slice(0, 200)}`);
  }
  if (location) parts.push(location.excerpt);
  return { text: redactSecret(parts.join('\n'), password), location };
}
