import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { statusCommand } from '../../src/commands/status.js';
import { verifyCommand } from '../../src/commands/verify.js';
import { DriftError, ExitCode } from '../../src/errors.js';
import { flatHistory } from '../../src/migrations/flat-history.js';
import { readHistoryWherePresent, type HistoryStore } from '../../src/migrations/history.js';
import { prismaHistory } from '../../src/migrations/prisma-history.js';
import { scratchDir } from '../helpers/cli.js';
import { commandContext } from '../helpers/context.js';
import { connectAsSession, createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { recordEveryClient, recordStatements } from '../helpers/statements.js';

/** A statement that reads the table itself (not the probe, which names it as a literal). */
const readsTable = (table: string) => (sql: string) =>
  new RegExp(`\\bFROM\\s+"?${table}"?`).test(sql);

const ROW: Record<string, string> = {
  preflight_migrations: `INSERT INTO preflight_migrations (version, name, checksum, finished_at)
    VALUES ('1', '0001_first.sql', 'abc', now())`,
  _prisma_migrations: `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, finished_at)
    VALUES ('a1', 'abc', '20240101000000_first', now())`,
};

describe.each([
  ['flat', flatHistory],
  ['prisma', prismaHistory],
] as Array<[string, HistoryStore]>)('the %s history read where its table exists', (_, store) => {
  let db: TestDatabase;
  let client: pg.Client;
  beforeEach(async () => {
    db = await createTestDatabase('pf_hist');
    client = await connectAsSession(db.url);
  });
  afterEach(async () => {
    await client.end();
    await db.drop();
  });

  it('without the table: only the probe goes out, and the history is empty', async () => {
    const { sent } = recordStatements(client);
    await expect(readHistoryWherePresent(store, client)).resolves.toEqual([]);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toContain('to_regclass');
    expect(sent.filter(readsTable(store.table))).toEqual([]);
  });

  it('with the table: its rows, read behind the probe', async () => {
    await store.ensure(client);
    await client.query(ROW[store.table] ?? '');
    const { sent } = recordStatements(client);
    const history = await readHistoryWherePresent(store, client);
    expect(history).toEqual([expect.objectContaining({ checksum: 'abc', failed: false })]);
    expect(sent).toHaveLength(2);
    expect(sent.filter(readsTable(store.table))).toHaveLength(1);
  });

  it('a table of that name another tool made is still a history conflict, not an empty history', async () => {
    await client.query(`CREATE TABLE "${store.table}" (id int)`);
    await expect(readHistoryWherePresent(store, client)).rejects.toThrow(/not a migration history/);
  });
});

describe('status and verify on a database that no migration has reached', () => {
  let db: TestDatabase;
  let dir: string;
  let recorded: ReturnType<typeof recordEveryClient>;
  beforeEach(async () => {
    db = await createTestDatabase('pf_hist');
    dir = scratchDir();
    mkdirSync(path.join(dir, 'migrations'));
    writeFileSync(path.join(dir, 'migrations', '0001_first.sql'), 'CREATE TABLE first (id int);\n');
    recorded = recordEveryClient();
  });
  afterEach(async () => {
    recorded.restore();
    await db.drop();
  });

  it('status reports the migration pending without reading a history table that is not there', async () => {
    const { ctx } = commandContext('status', db.url, dir);
    await expect(statusCommand(ctx)).resolves.toBe(ExitCode.pending);
    expect(ctx.report.migrations?.pending).toEqual(['0001_first.sql']);
    expect(recorded.sent.some((sql) => sql.includes("'preflight_migrations'"))).toBe(true);
    expect(recorded.sent.filter(readsTable('preflight_migrations'))).toEqual([]);
  });

  it('verify fails on the pending migration without reading a history table that is not there', async () => {
    const { ctx } = commandContext('verify', db.url, dir);
    const failure = verifyCommand(ctx);
    await expect(failure).rejects.toBeInstanceOf(DriftError);
    await expect(failure).rejects.toThrow(/0001_first\.sql/);
    expect(recorded.sent.filter(readsTable('preflight_migrations'))).toEqual([]);
  });
});
