import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { logLines, runCli, scratchDir, type CliResult } from '../helpers/cli.js';

let db: TestDatabase;
let dir: string;
beforeEach(async () => {
  db = await createTestDatabase('pfr');
  dir = scratchDir();
  mkdirSync(path.join(dir, 'migrations'));
});
afterEach(async () => {
  await db.drop();
});

type Layout = 'flat' | 'prisma';

/** Writes a migration in the layout: `<n>_<name>.sql` or `<n>_<name>/migration.sql`. */
function migration(layout: Layout, name: string, sql: string): string {
  const migrations = path.join(dir, 'migrations');
  if (layout === 'flat') {
    writeFileSync(path.join(migrations, `${name}.sql`), sql);
    return `${name}.sql`;
  }
  writeFileSync(path.join(migrations, 'migration_lock.toml'), 'provider = "postgresql"\n');
  mkdirSync(path.join(migrations, name), { recursive: true });
  writeFileSync(path.join(migrations, name, 'migration.sql'), sql);
  return name;
}

function cli(...args: string[]): Promise<CliResult> {
  return runCli([...args, '--migrations', path.join(dir, 'migrations')], {
    env: { DATABASE_URL: db.url },
    cwd: dir,
  });
}

async function tables(): Promise<string[]> {
  const rows = await db.query<{ t: string }>(
    "SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
  );
  return rows.map((r) => r.t);
}

/** The history as `name:state` lines, in the order written. */
async function history(layout: Layout): Promise<string[]> {
  const sql =
    layout === 'flat'
      ? `SELECT name, CASE WHEN finished_at IS NULL THEN 'failed' ELSE 'applied' END AS state FROM preflight_migrations ORDER BY started_at, version`
      : `SELECT migration_name AS name, CASE WHEN rolled_back_at IS NOT NULL THEN 'rolled-back' WHEN finished_at IS NULL THEN 'failed' ELSE 'applied' END AS state
           FROM _prisma_migrations ORDER BY started_at, finished_at NULLS FIRST`;
  const rows = await db.query<{ name: string; state: string }>(sql);
  return rows.map((r) => `${r.name}:${r.state}`);
}

describe.each(['flat', 'prisma'] as const)('recovery in the %s layout', (layout) => {
  it('a mixed file failing at its second statement: failed row, exit 6 next, resolve --rolled-back, fixed file applies', async () => {
    const first = migration(layout, '1_accounts', 'CREATE TABLE accounts (id int, email text);\n');
    const broken = migration(
      layout,
      '2_email_index',
      'CREATE INDEX CONCURRENTLY accounts_email ON accounts (email);\nALTER TABLE accounts ADD COLUMN plan no_such_type;\n',
    );
    const failed = await cli('migrate');
    expect(failed.exitCode).toBe(5);
    expect(failed.all).toContain('no_such_type');
    expect(failed.all).toMatch(/stopped at statement 2 of 2 \(line 2\)/);
    expect(failed.all).toContain('recorded as failed');
    expect(await history(layout)).toEqual([`${first}:applied`, `${broken}:failed`]);

    const stopped = await cli('migrate');
    expect(stopped.exitCode).toBe(6);
    expect(stopped.all).toContain(`preflight resolve --rolled-back ${broken}`);
    expect(stopped.all).toContain(`preflight resolve --applied ${broken}`);

    // The human undoes what ran, marks it rolled back, and fixes the file.
    await db.query('DROP INDEX accounts_email');
    const resolved = await cli('resolve', '--rolled-back', broken);
    expect(resolved.exitCode).toBe(0);
    expect(logLines(resolved.stdout).some((l) => l.event === 'history.rolled-back')).toBe(true);
    migration(
      layout,
      '2_email_index',
      'CREATE INDEX CONCURRENTLY accounts_email ON accounts (email);\nALTER TABLE accounts ADD COLUMN plan text;\n',
    );
    const fixed = await cli('migrate');
    expect(fixed.exitCode).toBe(0);
    expect(await history(layout)).toEqual(
      layout === 'flat'
        ? [`${first}:applied`, `${broken}:applied`]
        : [`${first}:applied`, `${broken}:rolled-back`, `${broken}:applied`],
    );
    const index = await db.query("SELECT 1 FROM pg_indexes WHERE indexname = 'accounts_email'");
    expect(index).toHaveLength(1);
    expect((await cli('status')).exitCode).toBe(0);
  });

  it('resolve --applied records a failed migration finished by hand; the next run does not run it', async () => {
    migration(layout, '1_accounts', 'CREATE TABLE accounts (id int);\n');
    const broken = migration(
      layout,
      '2_split',
      'ALTER TABLE accounts ADD COLUMN a int;\nCREATE INDEX CONCURRENTLY accounts_a ON accounts (a);\nALTER TABLE accounts ADD COLUMN b no_such_type;\n',
    );
    expect((await cli('migrate')).exitCode).toBe(5);
    await db.query('ALTER TABLE accounts ADD COLUMN b int'); // finished by hand
    const resolved = await cli('resolve', '--applied', broken);
    expect(resolved.exitCode).toBe(0);
    const next = await cli('migrate');
    expect(next.exitCode).toBe(0);
    expect(logLines(next.stdout).some((l) => l.event === 'migration.applied')).toBe(false);
    if (layout === 'prisma') {
      const rows = await db.query<{ logs: string | null; steps: number; rolled_back: boolean }>(
        `SELECT logs, applied_steps_count AS steps, rolled_back_at IS NOT NULL AS rolled_back
           FROM _prisma_migrations WHERE migration_name = $1 ORDER BY started_at`,
        [broken],
      );
      // The failed attempt keeps its logs and is rolled back; the resolved row is Prisma's own.
      expect(rows).toEqual([
        { logs: expect.stringContaining('no_such_type'), steps: 0, rolled_back: true },
        { logs: '', steps: 0, rolled_back: false },
      ]);
    }
  });

  it('refuses what makes no sense, changing nothing', async () => {
    const applied = migration(layout, '1_accounts', 'CREATE TABLE accounts (id int);\n');
    const pending = migration(layout, '2_plans', 'CREATE TABLE plans (id int);\n');
    writeFileSync(path.join(dir, 'migrations', 'ignored.txt'), 'not a migration');
    expect((await cli('migrate')).exitCode).toBe(0);
    migration(layout, '3_invoices', 'CREATE TABLE invoices (id int);\n');
    const before = await history(layout);

    const unknown = await cli('resolve', '--applied', '9_nope');
    expect(unknown.exitCode).toBe(2);
    expect(unknown.all).toContain('no migration named "9_nope"');
    const typo = await cli('resolve', '--applied', 'accounts');
    expect(typo.exitCode).toBe(2);
    expect(typo.all).toContain(`did you mean ${applied}`);
    const again = await cli('resolve', '--applied', applied);
    expect(again.exitCode).toBe(6);
    expect(again.all).toContain('already applied and its file is unchanged');
    const notFailed = await cli('resolve', '--rolled-back', pending);
    expect(notFailed.exitCode).toBe(6);
    expect(notFailed.all).toContain('is not failed');
    const never = await cli('resolve', '--rolled-back', '3_invoices');
    expect(never.exitCode).toBe(6);
    expect(never.all).toContain('was never applied');
    const baselineApplied = await cli('baseline', '--to', pending);
    expect(baselineApplied.exitCode).toBe(6);
    expect(baselineApplied.all).toContain('already applied');
    const baselineUnknown = await cli('baseline', '--to', 'nope');
    expect(baselineUnknown.exitCode).toBe(2);

    expect(await history(layout)).toEqual(before);
    expect(await tables()).not.toContain('invoices');
  });

  it('resolve --applied on an edited migration records the checksum of its current file', async () => {
    const first = migration(layout, '1_accounts', 'CREATE TABLE accounts (id int);\n');
    expect((await cli('migrate')).exitCode).toBe(0);
    migration(layout, '1_accounts', 'CREATE TABLE accounts (id int, email text);\n');
    await db.query('ALTER TABLE accounts ADD COLUMN email text');
    const edited = await cli('status');
    expect(edited.exitCode).toBe(6);
    expect(edited.all).toContain('edited after it was applied');
    expect((await cli('resolve', '--applied', first)).exitCode).toBe(0);
    expect((await cli('status')).exitCode).toBe(0);
  });

  it('baseline --to adopts an existing database: earlier migrations recorded, later ones applied', async () => {
    const one = migration(layout, '1_accounts', 'CREATE TABLE accounts (id int);\n');
    const two = migration(layout, '2_plans', 'CREATE TABLE plans (id int);\n');
    const three = migration(layout, '3_invoices', 'CREATE TABLE invoices (id int);\n');
    await db.query('CREATE TABLE accounts (id int); CREATE TABLE plans (id int);');
    const baseline = await cli('baseline', '--to', two);
    expect(baseline.exitCode).toBe(0);
    expect(logLines(baseline.stdout).find((l) => l.event === 'baseline.done')).toMatchObject({
      recorded: 2,
    });
    const next = await cli('migrate');
    expect(next.exitCode).toBe(0);
    expect(
      logLines(next.stdout)
        .filter((l) => l.event === 'migration.applied')
        .map((l) => l.migration),
    ).toEqual([three]);
    expect(await history(layout)).toEqual([`${one}:applied`, `${two}:applied`, `${three}:applied`]);
  });
});

describe('a failed concurrent index build', () => {
  it('names the INVALID index it left, records the migration as failed, and says how to drop it', async () => {
    migration(
      'flat',
      '1_emails',
      "CREATE TABLE emails (address text);\nINSERT INTO emails VALUES ('a'), ('a');\n",
    );
    migration(
      'flat',
      '2_unique',
      'CREATE UNIQUE INDEX CONCURRENTLY emails_address_key ON emails (address);\n',
    );
    const result = await cli('migrate');
    expect(result.exitCode).toBe(5);
    expect(result.all).toContain('23505');
    expect(result.all).toContain('INVALID index behind: emails_address_key');
    expect(result.all).toContain('DROP INDEX CONCURRENTLY emails_address_key;');
    expect(await history('flat')).toEqual(['1_emails.sql:applied', '2_unique.sql:failed']);
    const next = await cli('migrate');
    expect(next.exitCode).toBe(6);
  });
});

describe('the advisory lock of the prisma layout', () => {
  it('is Prisma’s own key, so that preflight and `prisma migrate deploy` exclude each other', async () => {
    migration('prisma', '1_accounts', 'CREATE TABLE accounts (id int);\n');
    const prisma = new pg.Client({ connectionString: db.url, application_name: 'prisma-migrate' });
    await prisma.connect();
    try {
      await prisma.query('SELECT pg_advisory_lock(72707369)');
      const result = await cli('migrate', '--lock-timeout', '1s');
      expect(result.exitCode).toBe(4);
      expect(result.all).toContain('prisma-migrate');
    } finally {
      await prisma.end();
    }
  });
});
