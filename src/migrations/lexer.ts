/**
 * A PostgreSQL lexer for migration files: splits a file into statements the way `psql -f`
 * does, and classifies statements by how they must run (inside a transaction or not).
 * Pure and linear: one pass over the text, no regex over the whole input.
 */

/** One statement of a migration file, located in the original text (BOM included). */
export interface Statement {
  /** The statement's SQL from its first to its last token: no semicolon, no outer comments. */
  readonly text: string;
  /** Offset of its first non-blank, non-comment character in the file text. */
  readonly start: number;
  /** Offset just after its last token (before any trailing comment and the semicolon). */
  readonly end: number;
  /** 1-based line of `start`. */
  readonly line: number;
  /** 1-based column of `start`. */
  readonly column: number;
}

/** How a migration file must be run. */
export type TransactionMode = 'transaction' | 'single-non-transactional' | 'statements' | 'explicit';

type TokenKind =
  | 'word'
  | 'quoted-identifier'
  | 'string'
  | 'dollar-string'
  | 'parameter'
  | 'number'
  | 'symbol'
  | 'open-comment';

const TAB = 9;
const LF = 10;
const CR = 13;
const SPACE = 32;
const DQUOTE = 34;
const DOLLAR = 36;
const QUOTE = 39;
const LPAREN = 40;
const RPAREN = 41;
const STAR = 42;
const DASH = 45;
const SLASH = 47;
const SEMICOLON = 59;
const BACKSLASH = 92;
const BOM = 0xfeff;

function isSpace(c: number): boolean {
  return c === SPACE || (c >= TAB && c <= CR); // space, \t, \n, \v, \f, \r
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Postgres' ident_start: a letter, `_`, or any non-ASCII character. */
function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c >= 128;
}

function isTagChar(c: number): boolean {
  return isIdentStart(c) || isDigit(c);
}

function bomLength(sql: string): number {
  return sql.charCodeAt(0) === BOM ? 1 : 0;
}

/** End of a `'...'` or `"..."` token whose body starts at `from` (doubled quote escapes). */
function scanQuoted(sql: string, from: number, quote: string): number {
  let i = from;
  for (;;) {
    const close = sql.indexOf(quote, i);
    if (close < 0) return sql.length;
    if (sql[close + 1] !== quote) return close + 1;
    i = close + 2;
  }
}

/** End of an `E'...'` string whose body starts at `from`: backslash escapes any character. */
function scanExtended(sql: string, from: number): number {
  const n = sql.length;
  let i = from;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === BACKSLASH) i += 2;
    else if (c !== QUOTE) i += 1;
    else if (sql.charCodeAt(i + 1) === QUOTE) i += 2;
    else return i + 1;
  }
  return n;
}

/** End of a `/* ... *\/` comment starting at `at` (they nest), or -1 when it never closes. */
function scanBlockComment(sql: string, at: number): number {
  const n = sql.length;
  let depth = 1;
  let i = at + 2;
  while (i < n) {
    const c = sql.charCodeAt(i);
    const next = sql.charCodeAt(i + 1);
    if (c === SLASH && next === STAR) {
      depth += 1;
      i += 2;
    } else if (c === STAR && next === SLASH) {
      i += 2;
      if (--depth === 0) return i;
    } else {
      i += 1;
    }
  }
  return -1;
}

function scanLineComment(sql: string, from: number): number {
  const n = sql.length;
  let i = from;
  while (i < n && sql.charCodeAt(i) !== LF && sql.charCodeAt(i) !== CR) i += 1;
  return i;
}

function scanWhile(sql: string, from: number, accept: (c: number) => boolean): number {
  let i = from;
  while (i < sql.length && accept(sql.charCodeAt(i))) i += 1;
  return i;
}

function isIdentCont(c: number): boolean {
  return isTagChar(c) || c === DOLLAR;
}

function isNumberCont(c: number): boolean {
  return isTagChar(c) || c === 46; // digits, `.`, exponents, `0x`, `_` separators
}

/** Walks the significant tokens of SQL text, skipping blanks and comments. */
class Lexer {
  kind: TokenKind = 'symbol';
  start = 0;
  end = 0;

  constructor(
    private readonly sql: string,
    private pos: number,
  ) {}

  /** Moves to the next token; false at the end of the text. */
  next(): boolean {
    const sql = this.sql;
    let i = this.pos;
    while (i < sql.length) {
      const c = sql.charCodeAt(i);
      const next = sql.charCodeAt(i + 1);
      if (isSpace(c)) i += 1;
      else if (c === DASH && next === DASH) i = scanLineComment(sql, i + 2);
      else if (c !== SLASH || next !== STAR) return this.scanToken(i, c, next);
      else {
        const end = scanBlockComment(sql, i);
        // An unclosed comment is kept as a token so that the server reports it.
        if (end < 0) return this.found('open-comment', i, sql.length);
        i = end;
      }
    }
    this.pos = sql.length;
    return false;
  }

  /** The token's text. */
  text(): string {
    return this.sql.slice(this.start, this.end);
  }

  /** True when the token is the unquoted keyword `lower` (given in lower case). */
  isWord(lower: string): boolean {
    if (this.kind !== 'word' || this.end - this.start !== lower.length) return false;
    for (let i = 0; i < lower.length; i += 1) {
      // `| 0x20` lower-cases ASCII letters; keywords contain nothing else.
      if ((this.sql.charCodeAt(this.start + i) | 0x20) !== lower.charCodeAt(i)) return false;
    }
    return true;
  }

  /** True when the token is the one-character symbol with this character code. */
  isSymbol(code: number): boolean {
    return this.kind === 'symbol' && this.sql.charCodeAt(this.start) === code;
  }

  private scanToken(i: number, c: number, next: number): boolean {
    const sql = this.sql;
    if (c === QUOTE) return this.found('string', i, scanQuoted(sql, i + 1, "'"));
    if (c === DQUOTE) return this.found('quoted-identifier', i, scanQuoted(sql, i + 1, '"'));
    if ((c | 0x20) === 101 && next === QUOTE) return this.found('string', i, scanExtended(sql, i + 2));
    if (isIdentStart(c)) return this.found('word', i, scanWhile(sql, i + 1, isIdentCont));
    if (isDigit(c)) return this.found('number', i, scanWhile(sql, i + 1, isNumberCont));
    if (c === DOLLAR) return this.scanDollar(i, next);
    return this.found('symbol', i, i + 1);
  }

  /** `$1` is a parameter, `$tag$` opens a dollar quote closed by the same tag; else a symbol. */
  private scanDollar(i: number, next: number): boolean {
    const sql = this.sql;
    if (isDigit(next)) return this.found('parameter', i, scanWhile(sql, i + 1, isDigit));
    const tagEnd = isIdentStart(next) ? scanWhile(sql, i + 2, isTagChar) : i + 1;
    if (sql.charCodeAt(tagEnd) !== DOLLAR) return this.found('symbol', i, i + 1);
    const delimiter = sql.slice(i, tagEnd + 1);
    const close = sql.indexOf(delimiter, tagEnd + 1);
    const end = close < 0 ? sql.length : close + delimiter.length;
    return this.found('dollar-string', i, end);
  }

  private found(kind: TokenKind, start: number, end: number): boolean {
    this.kind = kind;
    this.start = start;
    this.end = end;
    this.pos = end;
    return true;
  }
}

/** Counts lines and columns forward through the text; a leading BOM takes no column. */
class Position {
  line = 1;
  column = 1;
  private offset: number;

  constructor(private readonly sql: string) {
    this.offset = bomLength(sql);
  }

  /** Advances to `offset` (never backwards); CRLF, LF and a lone CR each end a line. */
  advanceTo(offset: number): void {
    const sql = this.sql;
    const target = Math.min(offset, sql.length);
    for (let i = this.offset; i < target; i += 1) {
      const c = sql.charCodeAt(i);
      if (c === LF || (c === CR && sql.charCodeAt(i + 1) !== LF)) {
        this.line += 1;
        this.column = 1;
      } else {
        this.column += 1;
      }
    }
    this.offset = Math.max(this.offset, target);
  }
}

/**
 * Where one statement ends: at a semicolon outside parentheses (as psql, so that
 * `CREATE RULE ... DO (a; b)` stays whole) and outside a `BEGIN ATOMIC ... END` body.
 */
class StatementBoundary {
  start = -1;
  end = -1;
  private parens = 0;
  private atomic = 0;
  private afterBegin = false;

  /** Feeds one token; true when it is the semicolon that ends the current statement. */
  accept(token: Lexer): boolean {
    if (token.isSymbol(SEMICOLON) && this.parens === 0 && this.atomic === 0) return true;
    if (this.start < 0) this.start = token.start;
    this.end = token.end;
    const afterBegin = this.afterBegin;
    this.afterBegin = false;
    if (token.isSymbol(LPAREN)) this.parens += 1;
    else if (token.isSymbol(RPAREN)) this.parens = Math.max(0, this.parens - 1);
    else if (token.kind === 'word') this.trackAtomic(token, afterBegin);
    return false;
  }

  reset(): void {
    this.start = -1;
    this.end = -1;
    this.parens = 0;
    this.atomic = 0;
    this.afterBegin = false;
  }

  /** `BEGIN ATOMIC` opens a body; inside it CASE also closes with END, so both nest. */
  private trackAtomic(word: Lexer, afterBegin: boolean): void {
    if (afterBegin && word.isWord('atomic')) this.atomic += 1;
    else if (this.atomic > 0 && word.isWord('case')) this.atomic += 1;
    else if (this.atomic > 0 && word.isWord('end')) this.atomic -= 1;
    else this.afterBegin = this.parens === 0 && word.isWord('begin');
  }
}

/** Splits a file into statements as psql does; empty and comment-only statements are dropped. */
export function splitStatements(sql: string): Statement[] {
  const statements: Statement[] = [];
  const lexer = new Lexer(sql, bomLength(sql));
  const position = new Position(sql);
  const boundary = new StatementBoundary();
  const flush = (): void => {
    if (boundary.start < 0) return;
    const { start, end } = boundary;
    position.advanceTo(start);
    const { line, column } = position;
    statements.push({ text: sql.slice(start, end), start, end, line, column });
    boundary.reset();
  };
  while (lexer.next()) {
    if (boundary.accept(lexer)) flush();
  }
  flush();
  return statements;
}

/** 1-based line and column of a 0-based character offset (clamped to the text). */
export function lineAndColumn(sql: string, offset: number): { line: number; column: number } {
  const position = new Position(sql);
  position.advanceTo(offset);
  return { line: position.line, column: position.column };
}

const LITERAL = '<literal>';
const IDENTIFIER = '<identifier>';

/** The first `limit` tokens as keys: upper-cased words, symbols, numbers, placeholders. */
function leadingKeys(sql: string, limit: number): string[] {
  const keys: string[] = [];
  const lexer = new Lexer(sql, bomLength(sql));
  while (keys.length < limit && lexer.next()) {
    if (lexer.kind === 'word') keys.push(lexer.text().toUpperCase());
    else if (lexer.kind === 'symbol' || lexer.kind === 'number') keys.push(lexer.text());
    else keys.push(lexer.kind === 'quoted-identifier' ? IDENTIFIER : LITERAL);
  }
  return keys;
}

/** The statement's first token as a key (upper-cased word or symbol), after comments. */
export function firstKey(sql: string): string | undefined {
  return leadingKeys(sql, 1)[0];
}

// Enough to see every keyword the classifiers look for, without lexing a huge statement.
const KEY_LIMIT = 64;
const FIRST_WORDS = new Set(['CREATE', 'DROP', 'ALTER', 'REINDEX', 'CLUSTER', 'VACUUM']);

/** True when Postgres refuses the statement inside a transaction block. */
export function isNonTransactional(statement: string): boolean {
  // Most statements are ruled out by their first word, before lexing any further.
  if (!FIRST_WORDS.has(leadingKeys(statement, 1)[0] ?? '')) return false;
  const keys = leadingKeys(statement, KEY_LIMIT);
  switch (keys[0]) {
    case 'CREATE':
      return isCreateNonTransactional(keys);
    case 'DROP':
      return isDropNonTransactional(keys);
    case 'ALTER':
      return isAlterNonTransactional(keys);
    case 'REINDEX':
      return isReindexNonTransactional(keys);
    case 'CLUSTER':
      return isBareCluster(keys);
    case 'VACUUM':
      return true;
    default:
      return false;
  }
}

const WHOLE_OBJECT_KINDS = new Set(['DATABASE', 'TABLESPACE', 'SUBSCRIPTION']);

function isCreateNonTransactional(keys: readonly string[]): boolean {
  if (WHOLE_OBJECT_KINDS.has(keys[1] ?? '')) return true;
  const index = keys[1] === 'UNIQUE' ? 2 : 1;
  return keys[index] === 'INDEX' && keys[index + 1] === 'CONCURRENTLY';
}

function isDropNonTransactional(keys: readonly string[]): boolean {
  if (WHOLE_OBJECT_KINDS.has(keys[1] ?? '')) return true;
  return keys[1] === 'INDEX' && keys[2] === 'CONCURRENTLY';
}

function isAlterNonTransactional(keys: readonly string[]): boolean {
  switch (keys[1]) {
    case 'SYSTEM':
    case 'SUBSCRIPTION':
      return true;
    case 'DATABASE':
      return keys[3] === 'SET' && keys[4] === 'TABLESPACE';
    case 'TABLE':
      return isConcurrentDetach(keys);
    default:
      return false;
  }
}

/** `ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY` (a keyword, so never a bare name). */
function isConcurrentDetach(keys: readonly string[]): boolean {
  const detach = keys.indexOf('DETACH');
  return (
    detach > 0 && keys[detach + 1] === 'PARTITION' && keys.indexOf('CONCURRENTLY', detach) > 0
  );
}

/** `REINDEX [(options)] kind [CONCURRENTLY] name`; SCHEMA, DATABASE and SYSTEM always refuse. */
function isReindexNonTransactional(keys: readonly string[]): boolean {
  let i = 1;
  let concurrentOption = false;
  if (keys[1] === '(') {
    const close = keys.indexOf(')', 2);
    if (close < 0) return false;
    concurrentOption = isOptionEnabled(keys.slice(2, close), 'CONCURRENTLY');
    i = close + 1;
  }
  const kind = keys[i];
  if (kind === 'SCHEMA' || kind === 'DATABASE' || kind === 'SYSTEM') return true;
  return concurrentOption || keys[i + 1] === 'CONCURRENTLY';
}

/** Whether `name [value]` appears in a comma-separated option list with a true value. */
function isOptionEnabled(options: readonly string[], name: string): boolean {
  const at = options.indexOf(name);
  if (at < 0 || (at > 0 && options[at - 1] !== ',')) return false;
  const value = options[at + 1];
  return !(value === 'FALSE' || value === 'OFF' || value === '0');
}

/** `CLUSTER`, `CLUSTER VERBOSE` or `CLUSTER (options)`: every table, so no transaction. */
function isBareCluster(keys: readonly string[]): boolean {
  let i = 1;
  if (keys[1] === 'VERBOSE') i = 2;
  else if (keys[1] === '(') i = keys.indexOf(')') + 1;
  return i > 0 && (i === keys.length || keys[i] === ';');
}

/** True for BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK and ABORT (not savepoints or 2PC). */
export function isTransactionControl(statement: string): boolean {
  const keys = leadingKeys(statement, 4);
  switch (keys[0]) {
    case 'BEGIN':
    case 'END':
      return true;
    case 'START':
      return keys[1] === 'TRANSACTION';
    case 'COMMIT':
      return keys[1] !== 'PREPARED';
    case 'ROLLBACK':
    case 'ABORT': {
      if (keys[1] === 'PREPARED') return false;
      const next = keys[1] === 'WORK' || keys[1] === 'TRANSACTION' ? keys[2] : keys[1];
      return next !== 'TO';
    }
    default:
      return false;
  }
}

/** What a transaction-control statement does to the session's transaction block. */
export type TransactionControl = 'begin' | 'commit' | 'rollback' | 'chain';

/**
 * `begin` for BEGIN / START TRANSACTION, `commit` for COMMIT / END, `rollback` for ROLLBACK /
 * ABORT, `chain` for `COMMIT AND CHAIN` / `ROLLBACK AND CHAIN` (a new block opens at once);
 * undefined for anything else (savepoints, two-phase commit).
 */
export function transactionControlKind(statement: string): TransactionControl | undefined {
  if (!isTransactionControl(statement)) return undefined;
  const keys = leadingKeys(statement, 6);
  if (keys[0] === 'BEGIN' || keys[0] === 'START') return 'begin';
  if (keys.includes('CHAIN') && !keys.includes('NO')) return 'chain';
  return keys[0] === 'COMMIT' || keys[0] === 'END' ? 'commit' : 'rollback';
}

/**
 * True for the concurrent forms (`CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`,
 * `REINDEX ... CONCURRENTLY`, `DETACH PARTITION ... CONCURRENTLY`): they take locks that never
 * block reads and writes, and may leave an INVALID index behind when they fail.
 */
export function isConcurrent(statement: string): boolean {
  return isNonTransactional(statement) && leadingKeys(statement, KEY_LIMIT).includes('CONCURRENTLY');
}

// Sticky, so it only ever looks at the first line; no nested quantifiers, so no backtracking.
const MARKER = /[ \t]*--[ \t]*preflight[ \t]*:[ \t]*no-transaction[ \t]*(?:\r\n|\n|\r|$)/iy;

/** True when the first line (after an optional BOM) is `-- preflight:no-transaction`. */
export function hasNoTransactionMarker(sql: string): boolean {
  MARKER.lastIndex = bomLength(sql);
  return MARKER.test(sql);
}

/**
 * How to run a file: as written when it has its own BEGIN/COMMIT; statement by statement when
 * marked or when it mixes in non-transactional statements; a lone non-transactional statement
 * outside a transaction; otherwise in one transaction.
 */
export function transactionMode(sql: string): TransactionMode {
  return statementsMode(splitStatements(sql), hasNoTransactionMarker(sql));
}

/** `transactionMode` of statements already split; `marked` forces statement mode. */
export function statementsMode(statements: readonly Statement[], marked: boolean): TransactionMode {
  if (statements.some((s) => isTransactionControl(s.text))) return 'explicit';
  if (marked) return 'statements';
  const nonTransactional = statements.filter((s) => isNonTransactional(s.text)).length;
  if (nonTransactional === 0) return 'transaction';
  return statements.length === 1 ? 'single-non-transactional' : 'statements';
}
