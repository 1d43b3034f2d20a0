import pg from 'pg';
import { logLines } from '../helpers/cli.js';
import { useEngineProject } from '../helpers/engine-project.js';

const project = useEngineProject('pft');
const { query, migration, startMigrate, migrate, activeQueries, advisoryLocks } = project;

/** A session that holds ACCESS EXCLUSIVE on `table` until `release()` commits. */
async function holdTable(table: string): Promise<{ pid: number; release(): Promise<void> }> {
  const client = new pg.Client({
    connectionString: project.db.url,
    application_name: 'long-report',
  });
  await client.connect();
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  await client.query('BEGIN');
  await client.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  return {
    pid: rows[0]?.pid ?? 0,
    async release() {
      await client.query('COMMIT').catch(() => undefined);
      await client.end();
    },
  };
}

describe('lock_timeout on DDL', () => {
  beforeEach(async () => {
    migration('1_accounts.sql', 'CREATE TABLE accounts (id int PRIMARY KEY);\n');
    expect((await migrate()).exitCode).toBe(0);
    migration('2_add_balance.sql', 'ALTER TABLE accounts ADD COLUMN balance bigint;\n');
  });

  it('rolls back and retries while another session holds the table, and succeeds once it commits', async () => {
    const holder = await holdTable('accounts');
    const run = startMigrate('--ddl-lock-timeout', '500ms');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await holder.release();
    const result = await run;
    expect(result.exitCode).toBe(0);
    const lines = logLines(String(result.stdout));
    const retries = lines.filter((l) => l.event === 'migration.lock-retry');
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries[0]).toMatchObject({ migration: '2_add_balance.sql', attempt: 1 });
    expect(lines.find((l) => l.event === 'migration.applied')).toMatchObject({
      migration: '2_add_balance.sql',
    });
    const columns = await query(
      "SELECT 1 FROM information_schema.columns WHERE column_name = 'balance'",
    );
    expect(columns).toHaveLength(1);
  });

  it('exits 5 naming the blocking pid and its query when the holder never lets go', async () => {
    const holder = await holdTable('accounts');
    try {
      const result = await migrate('--ddl-lock-timeout', '500ms');
      expect(result.exitCode).toBe(5);
      expect(result.all).toContain('2_add_balance.sql');
      expect(result.all).toContain('55P03');
      expect(result.all).toContain(`pid ${holder.pid}`);
      expect(result.all).toContain('long-report');
      expect(result.all).toContain('LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE');
      expect(result.all).toMatch(/still blocked after 5 retries/);
      const retries = logLines(result.stdout).filter((l) => l.event === 'migration.lock-retry');
      expect(retries).toHaveLength(5);
      const history = await query<{ name: string }>('SELECT name FROM preflight_migrations');
      expect(history.map((h) => h.name)).toEqual(['1_accounts.sql']);
    } finally {
      await holder.release();
    }
  });
});

describe('statement_timeout', () => {
  it('cancels a statement that runs longer, rolls the migration back and exits 5', async () => {
    // Ten minutes: only the timeout can end it within the test's own time limit.
    migration('1_slow.sql', 'CREATE TABLE slow (id int);\nSELECT pg_sleep(600);\n');
    const result = await migrate('--statement-timeout', '500ms');
    expect(result.exitCode).toBe(5);
    expect(result.all).toContain('57014');
    expect(result.all).toContain('1_slow.sql');
    expect(result.all).toMatch(/longer than --statement-timeout 500ms/);
    expect(await query("SELECT 1 FROM pg_tables WHERE tablename = 'slow'")).toHaveLength(0);
    expect(await query('SELECT 1 FROM preflight_migrations')).toHaveLength(0);
  });
});

describe('the whole-run --deadline', () => {
  it('cancels the running statement on the server, rolls back, frees the lock and exits 5', async () => {
    migration('1_fast.sql', 'CREATE TABLE fast (id int);\n');
    migration('2_slow.sql', 'CREATE TABLE slow (id int);\nSELECT pg_sleep(600);\n');
    const result = await migrate('--deadline', '1500ms');
    expect(result.exitCode).toBe(5);
    expect(result.all).toMatch(
      /deadline \(--deadline 1500ms\) passed during migrate.*; migration 2_slow.sql: Nothing of it was applied \(rolled back\)/,
    );
    expect(logLines(result.stdout).at(-1)).toMatchObject({ event: 'done', exitCode: 5 });
    // Without the cancel, the server would still be sleeping (and holding the advisory lock).
    expect((await activeQueries()).filter((q) => q.includes('pg_sleep'))).toEqual([]);
    expect(await advisoryLocks()).toBe(0);
    const history = await query<{ name: string }>('SELECT name FROM preflight_migrations');
    expect(history.map((h) => h.name)).toEqual(['1_fast.sql']);
    expect(await query("SELECT 1 FROM pg_tables WHERE tablename = 'slow'")).toHaveLength(0);
  });

  it('exits 4 when it passes while waiting for the advisory lock', async () => {
    migration('1_fast.sql', 'CREATE TABLE fast (id int);\n');
    const holder = new pg.Client({ connectionString: project.db.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock(1886545254)');
      const result = await migrate('--deadline', '1s');
      expect(result.exitCode).toBe(4);
      expect(result.all).toMatch(/passed during lock/);
    } finally {
      await holder.end();
    }
  });
});
