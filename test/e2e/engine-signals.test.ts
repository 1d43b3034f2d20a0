import { logLines } from '../helpers/cli.js';
import { useEngineProject } from '../helpers/engine-project.js';

const project = useEngineProject('pfs');
const { query, migration, startMigrate, migrate, waitForQuery } = project;

async function serverState(): Promise<{ sleeping: number; advisory: number }> {
  const sleeping = (await project.activeQueries()).filter((q) => q.includes('pg_sleep')).length;
  return { sleeping, advisory: await project.advisoryLocks() };
}

// The sleep is read from a table, so that the next run of the same, unchanged file is quick.
const SLOW = `CREATE TABLE slow_done (id int);
SELECT pg_sleep((SELECT seconds FROM sleep_for));
`;

describe('signals during a migration', () => {
  beforeEach(async () => {
    await query('CREATE TABLE sleep_for (seconds int); INSERT INTO sleep_for VALUES (600)');
    migration('1_fast.sql', 'CREATE TABLE fast (id int);\n');
    migration('2_slow.sql', SLOW);
  });

  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)(
    '%s: the statement is cancelled, nothing recorded, lock free, exit %i; the next run applies it',
    async (signal, code) => {
      const run = startMigrate();
      await waitForQuery('pg_sleep');
      // The migration sleeps ten minutes: only the cancel ends it within the test's time limit.
      run.kill(signal);
      const result = await run;
      expect(result.exitCode).toBe(code);
      const lines = logLines(String(result.stdout));
      expect(lines.at(-1)).toMatchObject({ event: 'done', exitCode: code });
      expect(String(result.all)).toContain(
        `interrupted by ${signal}; migration 2_slow.sql: Nothing of it was applied (rolled back). It runs on the next deploy.`,
      );
      expect(await serverState()).toEqual({ sleeping: 0, advisory: 0 });
      const history = await query<{ name: string }>('SELECT name FROM preflight_migrations');
      expect(history.map((h) => h.name)).toEqual(['1_fast.sql']);
      expect(await query("SELECT 1 FROM pg_tables WHERE tablename = 'slow_done'")).toEqual([]);

      await query('UPDATE sleep_for SET seconds = 0');
      const next = await migrate();
      expect(next.exitCode).toBe(0);
      expect(logLines(next.stdout).filter((l) => l.event === 'migration.applied')).toEqual([
        expect.objectContaining({ migration: '2_slow.sql' }),
      ]);
    },
  );

  it('SIGTERM half-way through a file run statement by statement leaves it recorded as failed', async () => {
    migration(
      '2_slow.sql',
      `CREATE TABLE slow_done (id int);
CREATE INDEX CONCURRENTLY slow_done_id ON slow_done (id);
SELECT pg_sleep((SELECT seconds FROM sleep_for));
`,
    );
    const run = startMigrate();
    await waitForQuery('pg_sleep');
    run.kill('SIGTERM');
    const result = await run;
    expect(result.exitCode).toBe(143);
    expect(String(result.all)).toMatch(
      /interrupted by SIGTERM; migration 2_slow.sql: .*stopped at statement 3 of 3 .*recorded as failed/,
    );
    expect(await serverState()).toEqual({ sleeping: 0, advisory: 0 });
    const rows = await query<{ name: string; finished: boolean }>(
      'SELECT name, finished_at IS NOT NULL AS finished FROM preflight_migrations ORDER BY version',
    );
    expect(rows).toEqual([
      { name: '1_fast.sql', finished: true },
      { name: '2_slow.sql', finished: false },
    ]);
    const next = await migrate();
    expect(next.exitCode).toBe(6);
    expect(next.all).toContain('preflight resolve --rolled-back 2_slow.sql');
  });
});
