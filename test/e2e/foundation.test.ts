import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { TEST_PASSWORD } from '../helpers/secrets.mjs';
import { logLines, repoMigrationNames, runCli, scratchDir, startCli } from '../helpers/cli.js';
import { ORIGIN_TABLES } from '../helpers/origin.js';

let db: TestDatabase;
beforeEach(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  await db.drop();
});

const migrateOnly = (dir: string): string[] => ['--migrations', path.join(dir, 'migrations')];

async function tableNames(): Promise<string[]> {
  const rows = await db.query<{ tablename: string }>(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
  );
  return rows.map((r) => r.tablename);
}

describe('preflight run on the origin story database', () => {
  it('creates the 32 tables and the triggers, then a second run applies nothing', async () => {
    const first = await runCli(['migrate'], { env: { DATABASE_URL: db.url } });
    expect(first.exitCode).toBe(0);
    const tables = await tableNames();
    for (const table of ORIGIN_TABLES) expect(tables).toContain(table);
    expect(ORIGIN_TABLES).toHaveLength(32);
    const triggers = await db.query<{ tgname: string }>(
      'SELECT DISTINCT tgname FROM pg_trigger WHERE NOT tgisinternal',
    );
    expect(triggers.map((t) => t.tgname).sort()).toEqual(
      expect.arrayContaining([
        'create_default_notification_preferences',
        'update_storage_on_attachment_delete',
        'update_storage_on_attachment_insert',
        'update_updated_at',
      ]),
    );
    const history = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM preflight_migrations WHERE finished_at IS NOT NULL',
    );
    expect(history[0]?.n).toBe(repoMigrationNames().length);

    const second = await runCli(['migrate'], { env: { DATABASE_URL: db.url } });
    expect(second.exitCode).toBe(0);
    const events = logLines(second.stdout).map((l) => l.event);
    expect(events).toContain('migrations.none-pending');
    expect(events).not.toContain('migration.applied');
    expect(logLines(second.stdout).at(-1)).toMatchObject({ event: 'done', exitCode: 0 });
  });

  it('keeps the triggers working: storage accounting and default preferences', async () => {
    expect((await runCli(['migrate'], { env: { DATABASE_URL: db.url } })).exitCode).toBe(0);
    const [customer] = await db.query<{ id: string }>(
      "INSERT INTO customers (name, slug, email) VALUES ('Acme', 'acme', 'ops@acme.test') RETURNING id",
    );
    const [user] = await db.query<{ id: string }>(
      "INSERT INTO users (email, password_hash) VALUES ('ann@acme.test', 'x') RETURNING id",
    );
    const prefs = await db.query('SELECT 1 FROM notification_preferences WHERE user_id = $1', [
      user?.id,
    ]);
    expect(prefs.length).toBeGreaterThan(0);
    const [invoice] = await db.query<{ id: string }>(
      "INSERT INTO invoices (customer_id, invoice_number) VALUES ($1, 'INV-1') RETURNING id",
      [customer?.id],
    );
    const [attachment] = await db.query<{ id: string }>(
      "INSERT INTO invoice_attachments (customer_id, invoice_id, file_name, file_size, storage_key) VALUES ($1, $2, 'a.pdf', 4096, 'k/a.pdf') RETURNING id",
      [customer?.id, invoice?.id],
    );
    const used = async (): Promise<number> =>
      Number(
        (
          await db.query<{ u: string }>('SELECT storage_used AS u FROM customers WHERE id = $1', [
            customer?.id,
          ])
        )[0]?.u,
      );
    expect(await used()).toBe(4096);
    await db.query('DELETE FROM invoice_attachments WHERE id = $1', [attachment?.id]);
    expect(await used()).toBe(0);
    const [before] = await db.query<{ t: Date }>(
      'SELECT updated_at AS t FROM customers WHERE id = $1',
      [customer?.id],
    );
    await db.query("UPDATE customers SET city = 'Oslo' WHERE id = $1", [customer?.id]);
    const [after] = await db.query<{ t: Date }>(
      'SELECT updated_at AS t FROM customers WHERE id = $1',
      [customer?.id],
    );
    expect(after?.t.getTime()).toBeGreaterThan(before?.t.getTime() ?? Infinity);
  });
});

describe('preflight status', () => {
  it('exits 9 while migrations are pending and 0 when in sync', async () => {
    const pending = await runCli(['status'], { env: { DATABASE_URL: db.url } });
    expect(pending.exitCode).toBe(9);
    expect(pending.stderr).toContain(`${repoMigrationNames().length} pending`);
    expect(await tableNames()).toEqual([]);
    expect((await runCli(['run'], { env: { DATABASE_URL: db.url } })).exitCode).toBe(0);
    const synced = await runCli(['status'], { env: { DATABASE_URL: db.url } });
    expect(synced.exitCode).toBe(0);
  });
});

describe('history conflicts', () => {
  it.each(['run', 'migrate', 'verify', 'status'])(
    '%s: stops with exit 6 naming a history table of another shape, and changes nothing',
    async (command) => {
      // Another tool's table of the history's name: a clear conflict, not an internal error.
      await db.query('CREATE TABLE preflight_migrations (id serial PRIMARY KEY, note text)');
      const result = await runCli([command], { env: { DATABASE_URL: db.url } });
      expect(result.exitCode).toBe(6);
      expect(result.all).toMatch(
        /the table preflight_migrations exists but is not a migration history preflight can read \(column "version" does not exist\)/,
      );
      expect(result.all).not.toMatch(/internal error/);
      expect(await tableNames()).toEqual(['preflight_migrations']);
    },
  );

  it('stops with exit 6 naming an edited migration, and changes nothing', async () => {
    const dir = scratchDir({ migrations: true });
    expect(
      (await runCli(['migrate', ...migrateOnly(dir)], { env: { DATABASE_URL: db.url } })).exitCode,
    ).toBe(0);
    const edited = path.join(dir, 'migrations', '0003_plans_and_subscriptions.sql');
    appendFileSync(edited, '\nALTER TABLE plans ADD COLUMN sneaky int;\n');
    writeFileSync(
      path.join(dir, 'migrations', '0099_new_table.sql'),
      'CREATE TABLE brand_new (id int);\n',
    );
    const before = await db.query(
      'SELECT version, checksum FROM preflight_migrations ORDER BY version',
    );

    const result = await runCli(['migrate', ...migrateOnly(dir)], {
      env: { DATABASE_URL: db.url },
    });
    expect(result.exitCode).toBe(6);
    expect(result.all).toContain('0003_plans_and_subscriptions.sql');
    expect(result.all).toMatch(/edited after it was applied/);
    expect(await tableNames()).not.toContain('brand_new');
    expect(
      await db.query('SELECT version, checksum FROM preflight_migrations ORDER BY version'),
    ).toEqual(before);
  });

  it('does not count a change of line endings as an edit', async () => {
    const dir = scratchDir({ migrations: true, seeds: true });
    expect((await runCli(['run'], { cwd: dir, env: { DATABASE_URL: db.url } })).exitCode).toBe(0);
    const file = path.join(dir, 'migrations', '0001_initial_schema.sql');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/\n/g, '\r\n'));
    expect((await runCli(['status'], { cwd: dir, env: { DATABASE_URL: db.url } })).exitCode).toBe(
      0,
    );
  });
});

describe('connecting', () => {
  it('exits 3 at once on a wrong password, and the password appears nowhere', async () => {
    const url = new URL(process.env.TEST_PASSWORD_DATABASE_URL ?? '');
    const wrong = 'Wr0ng-Secret-Value-42';
    url.password = wrong;
    const result = await runCli(['run', '--wait', '30s'], {
      env: { DATABASE_URL: url.toString() },
    });
    expect(result.exitCode).toBe(3);
    expect(result.durationMs).toBeLessThan(10_000);
    expect(result.all).toMatch(/wrong password|password authentication failed/);
    expect(result.all).not.toContain(wrong);
    expect(result.all).not.toContain(TEST_PASSWORD);
  });

  it('exits 3 after the wait when nothing listens on the port', async () => {
    const result = await runCli(['run', '--wait', '3s'], {
      env: { DATABASE_URL: 'postgres://app:Secr3tValue@127.0.0.1:9/app' },
    });
    expect(result.exitCode).toBe(3);
    expect(result.durationMs).toBeGreaterThanOrEqual(2500);
    expect(result.all).toMatch(/connection refused/);
    expect(result.all).toMatch(/gave up after/);
    expect(result.all).not.toContain('Secr3tValue');
    expect(logLines(result.stdout).some((l) => l.event === 'connect.retry')).toBe(true);
  });
});

describe('the advisory lock', () => {
  it('exits 4 when another session holds it past --lock-timeout, naming the holder pid', async () => {
    const holder = new pg.Client({ connectionString: db.url, application_name: 'stuck-deploy' });
    await holder.connect();
    try {
      const { rows } = await holder.query<{ pid: number }>(
        'SELECT pg_backend_pid() AS pid, pg_advisory_lock(1886545254)',
      );
      const result = await runCli(['run', '--lock-timeout', '2s'], {
        env: { DATABASE_URL: db.url },
      });
      expect(result.exitCode).toBe(4);
      expect(result.all).toContain(`pid ${rows[0]?.pid}`);
      expect(result.all).toContain('stuck-deploy');
      expect(await tableNames()).toEqual([]);
    } finally {
      await holder.end();
    }
  });

  it('reads the history again once granted: what the holder applied meanwhile is not applied twice', async () => {
    const dir = scratchDir();
    mkdirSync(path.join(dir, 'migrations'));
    writeFileSync(path.join(dir, 'migrations', '1_one.sql'), 'CREATE TABLE one (id int);\n');
    const env = { DATABASE_URL: db.url };
    expect((await runCli(['run'], { env, cwd: dir })).exitCode).toBe(0);
    const two = 'CREATE TABLE two (id int);\n';
    writeFileSync(path.join(dir, 'migrations', '2_two.sql'), two);

    // Another deploy holds the lock: run's first try fails, with a read of the history behind it
    // (one applied, the second pending).
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    await holder.query('SELECT pg_advisory_lock(1886545254)');
    const cli = startCli(['run'], { env, cwd: dir });
    try {
      await new Promise<void>((resolve) =>
        cli.stdout?.on(
          'data',
          (chunk: Buffer) => chunk.includes('"event":"lock.wait"') && resolve(),
        ),
      );
      // That deploy applies the second migration and records it before it lets go.
      await holder.query(two);
      await holder.query(
        "INSERT INTO preflight_migrations (version, name, checksum, finished_at) VALUES ('2', '2_two.sql', $1, now())",
        [createHash('sha256').update(two).digest('hex')],
      );
      await holder.query('SELECT pg_advisory_unlock_all()');
    } finally {
      await holder.end();
    }
    const result = await cli;
    expect(result.all).not.toMatch(/already exists/);
    expect(result.exitCode).toBe(0);
    const applied = logLines(String(result.stdout)).filter((l) => l.event === 'migration.applied');
    expect(applied).toEqual([]);
    expect((await tableNames()).sort()).toEqual(['one', 'preflight_migrations', 'two']);
  });
});

describe('a failing migration', () => {
  it('exits 5 naming file, line and column; earlier ones stay applied, the failed one leaves no trace', async () => {
    const dir = scratchDir();
    const files: Record<string, string> = {
      '1_one.sql': 'CREATE TABLE one (id int);\n',
      '2_two.sql': 'CREATE TABLE two (id int);\n',
      '3_three.sql': 'CREATE TABLE three (id int);\n-- a typo below\nCREATE TABEL oops (id int);\n',
      '4_four.sql': 'CREATE TABLE four (id int);\n',
      '5_five.sql': 'CREATE TABLE five (id int);\n',
    };
    const { mkdirSync } = await import('node:fs');
    mkdirSync(path.join(dir, 'migrations'));
    for (const [name, sql] of Object.entries(files))
      writeFileSync(path.join(dir, 'migrations', name), sql);

    const result = await runCli(['migrate', ...migrateOnly(dir)], {
      env: { DATABASE_URL: db.url },
    });
    expect(result.exitCode).toBe(5);
    expect(result.all).toContain('3_three.sql:3:8');
    expect(result.all).toContain('42601');
    expect(result.all).toContain('CREATE TABEL oops');
    expect((await tableNames()).sort()).toEqual(['one', 'preflight_migrations', 'two']);
    const history = await db.query<{ name: string }>(
      'SELECT name FROM preflight_migrations ORDER BY version',
    );
    expect(history.map((h) => h.name)).toEqual(['1_one.sql', '2_two.sql']);
  });
});

describe('replicas', () => {
  it('8 processes at once on an empty database: all exit 0, every migration applied once', async () => {
    const runs = await Promise.all(
      Array.from({ length: 8 }, () => startCli(['migrate'], { env: { DATABASE_URL: db.url } })),
    );
    expect(runs.map((r) => r.exitCode)).toEqual(Array(8).fill(0));
    const applied = runs.flatMap((r) =>
      logLines(String(r.stdout)).filter((l) => l.event === 'migration.applied'),
    );
    expect(applied).toHaveLength(repoMigrationNames().length);
    expect(new Set(applied.map((l) => l.migration)).size).toBe(repoMigrationNames().length);
    const history = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM preflight_migrations',
    );
    expect(history[0]?.n).toBe(repoMigrationNames().length);
  });
});

describe('a Prisma URL with ?schema=', () => {
  it('applies the migrations in that schema', async () => {
    await db.query('CREATE SCHEMA "app data"');
    const dir = scratchDir();
    const { mkdirSync } = await import('node:fs');
    mkdirSync(path.join(dir, 'migrations'));
    writeFileSync(path.join(dir, 'migrations', '1_t.sql'), 'CREATE TABLE things (id int);\n');
    const url = `${db.url}?schema=${encodeURIComponent('app data')}`;
    const result = await runCli(['migrate', ...migrateOnly(dir)], { env: { DATABASE_URL: url } });
    expect(result.exitCode).toBe(0);
    const rows = await db.query<{ schemaname: string }>(
      "SELECT schemaname FROM pg_tables WHERE tablename = 'things'",
    );
    expect(rows).toEqual([{ schemaname: 'app data' }]);
  });
});
