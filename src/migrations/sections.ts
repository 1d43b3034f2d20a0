/**
 * Migration files written for other tools keep their up and down parts in one file: dbmate
 * (`-- migrate:up`, `-- migrate:down`), goose (`-- +goose Up`, `-- +goose Down`) and
 * sql-migrate (`-- +migrate Up`, `-- +migrate Down`). Only the up part may run.
 */

/** What to execute of a migration file. */
export interface MigrationBody {
  /**
   * The SQL to run: the file with its byte-order mark and everything outside the up part
   * blanked out by spaces (line breaks kept) and the down part cut off, so that every offset
   * in the body is the same offset in the file.
   */
  readonly sql: string;
  /** The tool's own "no transaction" option was given (`transaction:false`, `NO TRANSACTION`). */
  readonly noTransaction: boolean;
  /** The tool whose up/down markers were found, if any. */
  readonly tool: 'dbmate' | 'goose' | 'sql-migrate' | undefined;
}

interface Marker {
  readonly tool: 'dbmate' | 'goose' | 'sql-migrate';
  readonly direction: 'up' | 'down' | 'no-transaction';
  readonly noTransaction: boolean;
  readonly start: number;
  readonly end: number;
}

// One line each, anchored at its start; `[^\S\r\n]` is blank without line breaks.
const MARKERS: ReadonlyArray<{ tool: Marker['tool']; pattern: RegExp }> = [
  { tool: 'dbmate', pattern: /^--[^\S\r\n]*migrate:(up|down)\b([^\r\n]*)/gim },
  { tool: 'goose', pattern: /^--[^\S\r\n]*\+goose[^\S\r\n]+(up|down|no transaction)\b([^\r\n]*)/gim },
  { tool: 'sql-migrate', pattern: /^--[^\S\r\n]*\+migrate[^\S\r\n]+(up|down)\b([^\r\n]*)/gim },
];

function findMarkers(sql: string): Marker[] {
  const found: Marker[] = [];
  for (const { tool, pattern } of MARKERS) {
    for (const match of sql.matchAll(pattern)) {
      const word = (match[1] ?? '').toLowerCase();
      const options = (match[2] ?? '').toLowerCase();
      const direction = word === 'up' ? 'up' : word === 'down' ? 'down' : 'no-transaction';
      found.push({
        tool,
        direction,
        noTransaction:
          direction === 'no-transaction' ||
          /\btransaction:false\b/.test(options) ||
          /\bnotransaction\b/.test(options),
        start: match.index,
        end: match.index + match[0].length,
      });
    }
  }
  return found.sort((a, b) => a.start - b.start);
}

/** Replaces every character but line breaks by a space, keeping offsets and line numbers. */
function blank(text: string): string {
  return text.replace(/[^\r\n]/g, ' ');
}

/**
 * The part of a migration file to execute. Files without up/down markers run whole; with them,
 * only the up part runs (the first up marker up to the next down marker).
 */
export function migrationBody(sql: string): MigrationBody {
  const text = sql.charCodeAt(0) === 0xfeff ? ` ${sql.slice(1)}` : sql;
  const markers = findMarkers(text);
  const up = markers.find((m) => m.direction === 'up');
  if (!up) return { sql: text, noTransaction: false, tool: undefined };
  const down = markers.find((m) => m.direction === 'down' && m.start > up.start);
  const noTransaction = markers.some((m) => m.tool === up.tool && m.noTransaction);
  const body = blank(text.slice(0, up.end)) + text.slice(up.end, down ? down.start : text.length);
  return { sql: body, noTransaction, tool: up.tool };
}
