import pg from 'pg';
import {
  hasNoTransactionMarker,
  isNonTransactional,
  isTransactionControl,
  lineAndColumn,
  splitStatements,
  transactionMode,
  type TransactionMode,
} from '../../src/migrations/lexer.js';
import { createTestDatabase } from '../helpers/db.js';

const texts = (sql: string): string[] => splitStatements(sql).map((s) => s.text);

describe('splitStatements', () => {
  const cases: [string, string, string[]][] = [
    ['empty file', '', []],
    ['blank file', ' \n\t\r\n', []],
    ['comment-only file', '-- nothing\n/* at all; */\n', []],
    ['empty statements', ';; ;\n-- c\n;', []],
    ['two statements', 'SELECT 1; SELECT 2;', ['SELECT 1', 'SELECT 2']],
    ['last statement without semicolon', 'SELECT 1;\nSELECT 2\n', ['SELECT 1', 'SELECT 2']],
    ['single statement without semicolon', 'SELECT 1', ['SELECT 1']],
    ['leading and trailing comments excluded', '-- a\nSELECT 1 -- b\n;', ['SELECT 1']],
    ['inner comments kept', 'SELECT 1 /* x */ + 2;', ['SELECT 1 /* x */ + 2']],
    ['semicolon in a string', "SELECT 'a;b'; SELECT 2", ["SELECT 'a;b'", 'SELECT 2']],
    ['doubled quote', "SELECT 'it''s; ok'; SELECT 2", ["SELECT 'it''s; ok'", 'SELECT 2']],
    ['backslash in a standard string', "SELECT 'a\\'; SELECT 2", ["SELECT 'a\\'", 'SELECT 2']],
    ['E string escape', "SELECT E'it\\'s; fine'; SELECT 2", ["SELECT E'it\\'s; fine'", 'SELECT 2']],
    ['e string escape', "SELECT e'\\\\'; SELECT 2", ["SELECT e'\\\\'", 'SELECT 2']],
    ['E string doubled quote', "SELECT E'a''; b'; SELECT 2", ["SELECT E'a''; b'", 'SELECT 2']],
    [
      'word ending in e is no E prefix',
      "SELECT some'x\\'; SELECT 2",
      ["SELECT some'x\\'", 'SELECT 2'],
    ],
    ['U& string', "SELECT U&'\\0041;'; SELECT 2", ["SELECT U&'\\0041;'", 'SELECT 2']],
    [
      'U& string: backslash does not escape',
      "SELECT U&'a\\'; SELECT 2",
      ["SELECT U&'a\\'", 'SELECT 2'],
    ],
    ['dashes in a string', "SELECT '--'; SELECT 2", ["SELECT '--'", 'SELECT 2']],
    ['block opener in a string', "SELECT '/*'; SELECT 2", ["SELECT '/*'", 'SELECT 2']],
    ['$$ in a string', "SELECT '$$'; SELECT 2", ["SELECT '$$'", 'SELECT 2']],
    ['quote in a dollar string', "SELECT $$it's;$$; SELECT 2", ["SELECT $$it's;$$", 'SELECT 2']],
    [
      'dollar quoting',
      'CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql; SELECT 2',
      ['CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql', 'SELECT 2'],
    ],
    ['tagged dollar quote', 'SELECT $fn$ ; $fn$; SELECT 2', ['SELECT $fn$ ; $fn$', 'SELECT 2']],
    [
      'other tags inside a dollar quote',
      'SELECT $a$ x; $b$ y; $b$ z; $a$; SELECT 2',
      ['SELECT $a$ x; $b$ y; $b$ z; $a$', 'SELECT 2'],
    ],
    [
      'tags are case-sensitive',
      'SELECT $a$ ; $A$ ; $a$; SELECT 2',
      ['SELECT $a$ ; $A$ ; $a$', 'SELECT 2'],
    ],
    ['tag with digits', 'SELECT $t1$;$t1$; SELECT 2', ['SELECT $t1$;$t1$', 'SELECT 2']],
    ['parameters are not dollar quotes', 'SELECT $1; SELECT $2', ['SELECT $1', 'SELECT $2']],
    ['$ inside an identifier', 'SELECT a$$b; SELECT 2', ['SELECT a$$b', 'SELECT 2']],
    ['lone dollar', 'SELECT $ ; SELECT 2', ['SELECT $', 'SELECT 2']],
    [
      'quoted identifier',
      'SELECT 1 AS "weird;ident"; SELECT 2',
      ['SELECT 1 AS "weird;ident"', 'SELECT 2'],
    ],
    ['doubled double quote', 'SELECT 1 AS "a"";b"; SELECT 2', ['SELECT 1 AS "a"";b"', 'SELECT 2']],
    [
      'line comment with semicolon',
      'SELECT 1 -- no; split\n+ 1; SELECT 2',
      ['SELECT 1 -- no; split\n+ 1', 'SELECT 2'],
    ],
    ['line comment ends at CR', 'SELECT 1 -- c\r; SELECT 2', ['SELECT 1', 'SELECT 2']],
    [
      'block comment with semicolon',
      'SELECT /* ; */ 1; SELECT 2',
      ['SELECT /* ; */ 1', 'SELECT 2'],
    ],
    [
      'nested block comment with ; and quote',
      "SELECT /* a /* it's; */ still; */ 1; SELECT 2",
      ["SELECT /* a /* it's; */ still; */ 1", 'SELECT 2'],
    ],
    [
      'comment after an operator',
      'SELECT 2*/* c; */3; SELECT 2',
      ['SELECT 2*/* c; */3', 'SELECT 2'],
    ],
    ['semicolon in parentheses (as psql)', 'SELECT (1;2); SELECT 3', ['SELECT (1;2)', 'SELECT 3']],
    [
      'multi-action rule',
      'CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2)); SELECT 1',
      [
        'CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2))',
        'SELECT 1',
      ],
    ],
    ['stray closing parenthesis', 'SELECT 1); SELECT 2', ['SELECT 1)', 'SELECT 2']],
    [
      'BEGIN ATOMIC body',
      'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END; SELECT 3',
      [
        'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END',
        'SELECT 3',
      ],
    ],
    [
      'CASE ... END inside BEGIN ATOMIC',
      'CREATE PROCEDURE p() BEGIN ATOMIC SELECT CASE WHEN true THEN 1 ELSE (CASE 1 WHEN 1 THEN 2 END) END; INSERT INTO t VALUES (1); END;\nSELECT 3;',
      [
        'CREATE PROCEDURE p() BEGIN ATOMIC SELECT CASE WHEN true THEN 1 ELSE (CASE 1 WHEN 1 THEN 2 END) END; INSERT INTO t VALUES (1); END',
        'SELECT 3',
      ],
    ],
    [
      'comment between BEGIN and ATOMIC',
      'CREATE FUNCTION f() RETURNS int begin /* x */ atomic select 1; end; SELECT 3',
      ['CREATE FUNCTION f() RETURNS int begin /* x */ atomic select 1; end', 'SELECT 3'],
    ],
    [
      'transaction BEGIN is no body',
      'BEGIN; SELECT 1; END; SELECT 2',
      ['BEGIN', 'SELECT 1', 'END', 'SELECT 2'],
    ],
    [
      'CASE outside a body',
      'SELECT CASE WHEN x THEN 1 END; SELECT 2',
      ['SELECT CASE WHEN x THEN 1 END', 'SELECT 2'],
    ],
    [
      'a function named begin',
      'CREATE FUNCTION begin(atomic int) RETURNS int RETURN 1; SELECT 2',
      ['CREATE FUNCTION begin(atomic int) RETURNS int RETURN 1', 'SELECT 2'],
    ],
    [
      'unterminated string',
      "SELECT 1; SELECT 'oops; SELECT 2",
      ['SELECT 1', "SELECT 'oops; SELECT 2"],
    ],
    ['unterminated E string', "SELECT E'oops\\'; SELECT 2", ["SELECT E'oops\\'; SELECT 2"]],
    ['unterminated E string ending in backslash', "SELECT E'\\", ["SELECT E'\\"]],
    [
      'unterminated dollar quote',
      'SELECT 1; SELECT $x$ oops; SELECT 2',
      ['SELECT 1', 'SELECT $x$ oops; SELECT 2'],
    ],
    ['unterminated identifier', 'SELECT "oops; SELECT 2', ['SELECT "oops; SELECT 2']],
    [
      'unterminated block comment is kept for the server',
      'SELECT 1; /* oops; SELECT 2',
      ['SELECT 1', '/* oops; SELECT 2'],
    ],
    [
      'numbers and operators',
      'SELECT 1.5e3+0x1F-1_000; SELECT 2',
      ['SELECT 1.5e3+0x1F-1_000', 'SELECT 2'],
    ],
    ['BOM is skipped', '\uFEFFSELECT 1; SELECT 2', ['SELECT 1', 'SELECT 2']],
    ['non-ASCII identifiers', 'SELECT 1 AS café; SELECT 2', ['SELECT 1 AS café', 'SELECT 2']],
  ];

  it.each(cases)('%s', (_name, sql, expected) => {
    expect(texts(sql)).toEqual(expected);
  });

  it('gives offsets into the original text, BOM included', () => {
    const sql = '\uFEFF-- header\n  CREATE TABLE a (id int) ; \n/* c */ SELECT 1';
    const statements = splitStatements(sql);
    expect(statements).toHaveLength(2);
    for (const s of statements) expect(sql.slice(s.start, s.end)).toBe(s.text);
    expect(statements[0]).toMatchObject({ start: 13, end: 36, line: 2, column: 3 });
    expect(statements[1]).toMatchObject({ start: 48, line: 3, column: 9 });
    expect(statements[1]?.end).toBe(sql.length);
  });

  it('counts CRLF line endings as one line', () => {
    const sql = 'SELECT 1;\r\n\r\n  SELECT 2;\r\nSELECT\r\n3';
    expect(splitStatements(sql).map(({ line, column }) => [line, column])).toEqual([
      [1, 1],
      [3, 3],
      [4, 1],
    ]);
  });

  it('stops at the semicolon, not at a trailing comment', () => {
    const [s] = splitStatements('SELECT 1 -- why\n;');
    expect(s).toMatchObject({ text: 'SELECT 1', start: 0, end: 8 });
  });

  it('splits a large file in one linear pass', () => {
    const chunk =
      "INSERT INTO t VALUES (1, 'a;b', $$x;y$$, E'\\';'); -- c;\n/* d; /* e; */ */ SELECT 2;\n";
    const copies = 100_000; // about 8 MB
    const started = Date.now();
    const statements = splitStatements(chunk.repeat(copies));
    expect(statements).toHaveLength(2 * copies);
    expect(statements[2 * copies - 1]).toMatchObject({ text: 'SELECT 2', line: 2 * copies });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('stays linear on pathological input', () => {
    const inputs = [
      "'".repeat(2_000_000),
      '$'.repeat(2_000_000),
      '$a'.repeat(1_000_000),
      '/*'.repeat(1_000_000),
      '('.repeat(2_000_000),
      `E'${'\\'.repeat(2_000_000)}`,
    ];
    const started = Date.now();
    for (const sql of inputs) expect(splitStatements(sql).length).toBeLessThanOrEqual(1);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('lineAndColumn', () => {
  const cases: [string, string, number, number, number][] = [
    ['start', 'abc', 0, 1, 1],
    ['same line', 'abc', 2, 1, 3],
    ['after LF', 'a\nbc', 3, 2, 2],
    ['at the LF', 'a\nbc', 1, 1, 2],
    ['after CRLF', 'a\r\nbc', 3, 2, 1],
    ['several CRLF', 'a\r\n\r\nb', 5, 3, 1],
    ['lone CR', 'a\rb', 2, 2, 1],
    ['BOM takes no column', '\uFEFFabc', 1, 1, 1],
    ['after a BOM', '\uFEFFabc', 3, 1, 3],
    ['BOM on a later line is irrelevant', '\uFEFFa\nb', 3, 2, 1],
    ['past the end is clamped', 'a\nb', 99, 2, 2],
    ['negative is clamped', 'a\nb', -4, 1, 1],
  ];

  it.each(cases)('%s', (_name, sql, offset, line, column) => {
    expect(lineAndColumn(sql, offset)).toEqual({ line, column });
  });
});

// Statements Postgres refuses inside a transaction block, and look-alikes it accepts.
const nonTransactional: [string, boolean][] = [
  ['CREATE INDEX CONCURRENTLY i ON t (a)', true],
  ['create unique index concurrently if not exists i on t (a)', true],
  ['CREATE\n  INDEX /* why */ CONCURRENTLY i ON t (a)', true],
  ['CREATE -- line\nINDEX\tCONCURRENTLY i ON t (a)', true],
  ['-- leading comment\nCREATE INDEX CONCURRENTLY i ON t (a)', true],
  ['CREATE INDEX i ON t (a)', false],
  ['CREATE UNIQUE INDEX i ON t (a)', false],
  ['CREATE INDEX "concurrently" ON t (a)', false],
  ['CREATE INDEX i ON t (a) -- CONCURRENTLY', false],
  ['/* CREATE INDEX CONCURRENTLY */ CREATE INDEX i ON t (a)', false],
  ["SELECT 'CREATE INDEX CONCURRENTLY i ON t (a)'", false],
  ['SELECT $$VACUUM$$', false],
  ['DROP INDEX CONCURRENTLY i', true],
  ['DROP INDEX CONCURRENTLY IF EXISTS i', true],
  ['DROP INDEX i', false],
  ['REINDEX INDEX CONCURRENTLY i', true],
  ['REINDEX TABLE CONCURRENTLY t', true],
  ['REINDEX (VERBOSE) INDEX CONCURRENTLY i', true],
  ['REINDEX (VERBOSE, TABLESPACE pg_default) TABLE CONCURRENTLY t', true],
  ['REINDEX (CONCURRENTLY) TABLE t', true],
  ['REINDEX (VERBOSE, CONCURRENTLY true) TABLE t', true],
  ['REINDEX (CONCURRENTLY false) TABLE t', false],
  ['REINDEX (CONCURRENTLY off) INDEX i', false],
  ['REINDEX TABLE t', false],
  ['REINDEX INDEX i', false],
  ['REINDEX (VERBOSE) TABLE t', false],
  ['REINDEX SCHEMA public', true],
  ['REINDEX DATABASE', true],
  ['REINDEX SYSTEM', true],
  ['VACUUM', true],
  ['vacuum (analyze) t', true],
  ['VACUUM FULL t', true],
  ['ANALYZE t', false],
  ['ALTER SYSTEM SET work_mem = 1', true],
  ['CREATE DATABASE d', true],
  ['DROP DATABASE IF EXISTS d', true],
  ['CREATE TABLESPACE s LOCATION $$/x$$', true],
  ['DROP TABLESPACE s', true],
  ['ALTER TABLESPACE s SET (seq_page_cost = 1)', false],
  ['ALTER DATABASE d SET TABLESPACE s', true],
  ['ALTER DATABASE "my db" SET TABLESPACE s', true],
  ["ALTER DATABASE d SET work_mem = '4MB'", false],
  ['ALTER DATABASE d RENAME TO e', false],
  ['CLUSTER', true],
  ['CLUSTER VERBOSE', true],
  ['CLUSTER (VERBOSE)', true],
  ['CLUSTER t', false],
  ['CLUSTER VERBOSE t', false],
  ['CLUSTER t USING i', false],
  ['ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY', true],
  ['ALTER TABLE IF EXISTS ONLY s.p DETACH PARTITION "s"."p1" CONCURRENTLY', true],
  ['ALTER TABLE p DETACH PARTITION p1', false],
  ['ALTER TABLE p DETACH PARTITION p1 FINALIZE', false],
  ["CREATE SUBSCRIPTION s CONNECTION 'x' PUBLICATION p", true],
  ['DROP SUBSCRIPTION s', true],
  ['ALTER SUBSCRIPTION s REFRESH PUBLICATION', true],
  ['ALTER SUBSCRIPTION s DISABLE', true],
  ["ALTER TYPE e ADD VALUE 'b'", false],
  ["ALTER TYPE e ADD VALUE IF NOT EXISTS 'b' BEFORE 'a'", false],
  ['REFRESH MATERIALIZED VIEW CONCURRENTLY mv', false],
  ['CREATE TABLE t (a int)', false],
  ['CREATE TABLE "VACUUM" (a int)', false],
  ['BEGIN', false],
  ['', false],
  ['-- only a comment', false],
];

describe('isNonTransactional', () => {
  it.each(nonTransactional)('%j → %s', (sql, expected) => {
    expect(isNonTransactional(sql)).toBe(expected);
  });
});

describe('isTransactionControl', () => {
  const cases: [string, boolean][] = [
    ['BEGIN', true],
    ['begin work', true],
    ['BEGIN TRANSACTION ISOLATION LEVEL SERIALIZABLE', true],
    ['BEGIN READ ONLY', true],
    ['START TRANSACTION', true],
    ['COMMIT', true],
    ['COMMIT WORK', true],
    ['COMMIT AND CHAIN', true],
    ['COMMIT TRANSACTION AND NO CHAIN', true],
    ['END', true],
    ['END TRANSACTION', true],
    ['ROLLBACK', true],
    ['ROLLBACK WORK', true],
    ['ROLLBACK AND CHAIN', true],
    ['ABORT', true],
    ['/* c */ commit', true],
    ['ROLLBACK TO SAVEPOINT s', false],
    ['ROLLBACK TO s', false],
    ['ROLLBACK WORK TO SAVEPOINT s', false],
    ['ROLLBACK TRANSACTION TO s', false],
    ["COMMIT PREPARED 'x'", false],
    ["ROLLBACK PREPARED 'x'", false],
    ['SAVEPOINT s', false],
    ['RELEASE SAVEPOINT s', false],
    ['START_TIME', false],
    ['SET TRANSACTION ISOLATION LEVEL SERIALIZABLE', false],
    ["SELECT 'BEGIN'", false],
    ['-- BEGIN', false],
    ['"begin"', false],
    ['', false],
  ];

  it.each(cases)('%j → %s', (sql, expected) => {
    expect(isTransactionControl(sql)).toBe(expected);
  });
});

describe('hasNoTransactionMarker', () => {
  const cases: [string, boolean][] = [
    ['-- preflight:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);', true],
    ['-- preflight:no-transaction', true],
    ['--preflight:no-transaction\r\nSELECT 1', true],
    ['  --  Preflight : NO-TRANSACTION  \nSELECT 1', true],
    ['\uFEFF-- preflight:no-transaction\n', true],
    ['-- preflight:no-transaction\rSELECT 1', true],
    ['\nSELECT 1;\n-- preflight:no-transaction', false],
    ['SELECT 1; -- preflight:no-transaction', false],
    ['-- preflight:no-transaction please\n', false],
    ['-- preflight:no_transaction\n', false],
    ['-- preflight:transaction\n', false],
    ['/* preflight:no-transaction */\n', false],
    ['', false],
  ];

  it.each(cases)('%j → %s', (sql, expected) => {
    expect(hasNoTransactionMarker(sql)).toBe(expected);
  });
});

describe('transactionMode', () => {
  const cases: [string, string, TransactionMode][] = [
    ['empty file', '', 'transaction'],
    ['ordinary DDL', 'CREATE TABLE t (a int);\nCREATE INDEX i ON t (a);', 'transaction'],
    ['enum value added', "ALTER TYPE e ADD VALUE 'b';", 'transaction'],
    ['concurrent refresh', 'REFRESH MATERIALIZED VIEW CONCURRENTLY mv;', 'transaction'],
    [
      'keyword in a comment',
      '-- CREATE INDEX CONCURRENTLY i ON t (a);\nCREATE INDEX i ON t (a);',
      'transaction',
    ],
    ['keyword in a function body', 'DO $$ BEGIN EXECUTE $q$VACUUM$q$; END $$;', 'transaction'],
    [
      'single concurrent index',
      'CREATE INDEX CONCURRENTLY i ON t (a);\n',
      'single-non-transactional',
    ],
    ['single without semicolon', '-- why\nVACUUM ANALYZE t', 'single-non-transactional'],
    ['mixed file', 'CREATE TABLE t (a int);\nCREATE INDEX CONCURRENTLY i ON t (a);', 'statements'],
    ['marker', '-- preflight:no-transaction\nCREATE TABLE t (a int);\nSELECT 1;', 'statements'],
    ['marker on one statement', '-- preflight:no-transaction\nVACUUM;', 'statements'],
    ['own BEGIN/COMMIT', 'BEGIN;\nCREATE TABLE t (a int);\nCOMMIT;', 'explicit'],
    ['START TRANSACTION ... END', 'START TRANSACTION;\nSELECT 1;\nEND;', 'explicit'],
    [
      'explicit beats marker',
      '-- preflight:no-transaction\nBEGIN;\nSELECT 1;\nCOMMIT;',
      'explicit',
    ],
    [
      'BEGIN ATOMIC is not transaction control',
      'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;',
      'transaction',
    ],
    [
      'savepoints are not transaction control',
      'SAVEPOINT s;\nROLLBACK TO SAVEPOINT s;',
      'transaction',
    ],
  ];

  it.each(cases)('%s', (_name, sql, expected) => {
    expect(transactionMode(sql)).toBe(expected);
  });
});

describe('against a real server', () => {
  const setup = `
    CREATE TABLE t (a int PRIMARY KEY);
    CREATE INDEX ti ON t (a);
    CREATE TABLE p (a int) PARTITION BY RANGE (a);
    CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10);
    CREATE TYPE e AS ENUM ('a');
    CREATE MATERIALIZED VIEW mv AS SELECT 1 AS x;
    CREATE UNIQUE INDEX ON mv (x);`;

  // Each statement runs inside BEGIN ... ROLLBACK; the server must refuse exactly the ones we flag.
  const probes = [
    'CREATE INDEX CONCURRENTLY i2 ON t (a)',
    'CREATE INDEX i2 ON t (a)',
    'DROP INDEX CONCURRENTLY ti',
    'DROP INDEX ti',
    'REINDEX (VERBOSE) INDEX CONCURRENTLY ti',
    'REINDEX (CONCURRENTLY) TABLE t',
    'REINDEX (CONCURRENTLY false) TABLE t',
    'REINDEX TABLE t',
    'REINDEX SCHEMA public',
    'VACUUM t',
    'CLUSTER',
    'CLUSTER (VERBOSE)',
    'ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY',
    'ALTER TABLE p DETACH PARTITION p1',
    "ALTER TYPE e ADD VALUE 'b'",
    'REFRESH MATERIALIZED VIEW CONCURRENTLY mv',
    'ALTER SYSTEM SET work_mem = 4096',
    'CREATE DATABASE never_created',
    'DROP DATABASE IF EXISTS never_created',
    'ALTER DATABASE postgres SET TABLESPACE pg_default',
  ];

  it('refuses inside a transaction exactly what isNonTransactional flags', async () => {
    const db = await createTestDatabase();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(setup);
      const refused: Record<string, boolean> = {};
      for (const sql of probes) {
        await client.query('BEGIN');
        const code = await client.query(sql).then(
          () => undefined,
          (error: { code?: string }) => error.code,
        );
        await client.query('ROLLBACK');
        // A form this server version does not know (CLUSTER (VERBOSE) before 17) fails anyway.
        if (code !== '42601') refused[sql] = code === '25001'; // active_sql_transaction
      }
      const known = probes.filter((sql) => sql in refused);
      expect(Object.fromEntries(known.map((sql) => [sql, isNonTransactional(sql)]))).toEqual(
        refused,
      );
    } finally {
      await client.end();
      await db.drop();
    }
  });

  it('splits a tricky file into statements the server runs one by one', async () => {
    const file = [
      '\uFEFF-- a migration with everything in it',
      "CREATE TABLE notes (id int, body text DEFAULT 'it''s; -- not a comment');",
      'CREATE TABLE "weird;table" (x int); /* nested /* ; */ \'still comment; */',
      "INSERT INTO notes VALUES (1, E'back\\'slash; $$'), (2, $a$ $b$ ; $b$ $a$);",
      'CREATE FUNCTION twice(n int) RETURNS int LANGUAGE sql',
      'BEGIN ATOMIC',
      '  SELECT CASE WHEN n > 0 THEN n * 2 ELSE 0 END;',
      'END;',
      'CREATE FUNCTION plus(n int) RETURNS int AS $fn$ SELECT n + 1; $fn$ LANGUAGE sql;',
      "INSERT INTO notes SELECT twice(plus(1)), 'last'",
    ].join('\r\n');
    const db = await createTestDatabase();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const statements = splitStatements(file);
      expect(statements.map(({ line, column }) => [line, column])).toEqual([
        [2, 1],
        [3, 1],
        [4, 1],
        [5, 1],
        [9, 1],
        [10, 1],
      ]);
      for (const { text } of statements) await client.query(text);
      const { rows } = await client.query<{ id: number; body: string }>(
        'SELECT id, body FROM notes ORDER BY id',
      );
      expect(rows).toEqual([
        { id: 1, body: "back'slash; $$" },
        { id: 2, body: ' $b$ ; $b$ ' },
        { id: 4, body: 'last' },
      ]);
    } finally {
      await client.end();
      await db.drop();
    }
  });
});
