import { isSingleBlock } from '../../src/migrations/apply-statements.js';
import {
  isConcurrent,
  splitStatements,
  statementsMode,
  transactionControlKind,
} from '../../src/migrations/lexer.js';
import { retryDelay } from '../../src/migrations/lock-retry.js';

describe('how a file runs', () => {
  it.each([
    ['CREATE TABLE a (id int); INSERT INTO a VALUES (1);', false, 'transaction'],
    ["ALTER TYPE mood ADD VALUE 'meh'; ALTER TABLE a ADD COLUMN b int;", false, 'transaction'],
    ['CREATE INDEX CONCURRENTLY i ON a (id)', false, 'single-non-transactional'],
    ['DROP INDEX CONCURRENTLY i;', false, 'single-non-transactional'],
    ['ALTER TABLE a ADD b int; CREATE INDEX CONCURRENTLY i ON a (b);', false, 'statements'],
    ['BEGIN; CREATE TABLE a (id int); COMMIT;', false, 'explicit'],
    ['CREATE TABLE a (id int); SELECT 1;', true, 'statements'],
    [
      'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;',
      false,
      'transaction',
    ],
  ])('%s (marked: %s) runs as %s', (sql, marked, mode) => {
    expect(statementsMode(splitStatements(sql), marked)).toBe(mode);
  });

  it('records a single BEGIN ... COMMIT file inside its own transaction', () => {
    expect(isSingleBlock(splitStatements('BEGIN; CREATE TABLE a (id int); COMMIT;'))).toBe(true);
    expect(isSingleBlock(splitStatements('START TRANSACTION; SELECT 1; END'))).toBe(true);
    expect(isSingleBlock(splitStatements('SELECT 0; BEGIN; SELECT 1; COMMIT;'))).toBe(false);
    expect(isSingleBlock(splitStatements('BEGIN; SELECT 1; COMMIT; SELECT 2;'))).toBe(false);
    expect(
      isSingleBlock(splitStatements('BEGIN; SELECT 1; COMMIT; BEGIN; SELECT 2; COMMIT;')),
    ).toBe(false);
  });

  it.each([
    ['BEGIN', 'begin'],
    ['begin transaction isolation level serializable', 'begin'],
    ['START TRANSACTION', 'begin'],
    ['COMMIT', 'commit'],
    ['END', 'commit'],
    ['COMMIT AND NO CHAIN', 'commit'],
    ['COMMIT AND CHAIN', 'chain'],
    ['ROLLBACK', 'rollback'],
    ['ABORT', 'rollback'],
    ['ROLLBACK TO SAVEPOINT s', undefined],
    ["COMMIT PREPARED 'x'", undefined],
    ['SAVEPOINT s', undefined],
    ['CREATE TABLE begin (id int)', undefined],
  ])('%s is transaction control %s', (sql, kind) => {
    expect(transactionControlKind(sql)).toBe(kind);
  });

  it.each([
    ['CREATE INDEX CONCURRENTLY i ON a (id)', true],
    ['CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON a (id)', true],
    ['DROP INDEX CONCURRENTLY IF EXISTS i', true],
    ['REINDEX INDEX CONCURRENTLY i', true],
    ['ALTER TABLE p DETACH PARTITION c CONCURRENTLY', true],
    ['VACUUM FULL a', false],
    ['CREATE INDEX i ON a (id)', false],
    ['REFRESH MATERIALIZED VIEW CONCURRENTLY v', false],
  ])('%s is concurrent: %s', (sql, concurrent) => {
    expect(isConcurrent(sql)).toBe(concurrent);
  });
});

describe('lock-timeout retries', () => {
  it('wait half the lock timeout, at most 1 s, doubling, at most 15 s', () => {
    expect([1, 2, 3, 4, 5].map((n) => retryDelay(500, n))).toEqual([250, 500, 1000, 2000, 4000]);
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelay(5000, n))).toEqual([
      1000, 2000, 4000, 8000, 15_000, 15_000,
    ]);
    expect(retryDelay(10, 1)).toBe(50);
  });
});
