import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { logLines, repoMigrationNames, runCli, scratchDir, startCli } from '../helpers/cli.js';
import { outputProblems } from './helpers/outputs.js';
import { countFrom } from './helpers/prng.js';
import { waitForStatement } from './helpers/scenario.js';
import {
  advisoryLocksHeld,
  createDatabase,
  serverPassword,
  serverVersion,
  type ScratchDatabase,
} from './helpers/server.js';
import { writeSummary } from './helpers/summary.js';

// Many replicas start `preflight run` at the same moment on an empty database (the repo's
// migrations and seeds): one migrates, the others wait, find nothing pending, verify, exit 0.
const REPLICAS = countFrom('RELIABILITY_REPLICAS', 32);

let db: ScratchDatabase;
beforeEach(async () => {
  db = await createDatabase('replicas');
});
afterEach(async () => {
  await db.drop();
});
const summary: Record<string, unknown> = {};
afterAll(() => writeSummary('replicas', summary));

describe(`${REPLICAS} replicas at once`, () => {
  it(
    'all exit 0, every migration is applied and recorded once, the schema verifies',
    async () => {
      const dir = scratchDir({ migrations: true, seeds: true });
      const started = Date.now();
      const runs = await Promise.all(
        Array.from({ length: REPLICAS }, () =>
          startCli(['run'], { cwd: dir, env: { DATABASE_URL: db.url } }),
        ),
      );
      const wallMs = Date.now() - started;
      const results = runs.map((r) => ({
        exitCode: r.exitCode ?? -1,
        all: String(r.all ?? ''),
        stdout: String(r.stdout ?? ''),
      }));
      const names = repoMigrationNames();
      const applied = results.flatMap((r) =>
        logLines(r.stdout).filter((l) => l.event === 'migration.applied'),
      );
      const migrators = results.filter((r) =>
        r.stdout.includes('"event":"migration.applied"'),
      ).length;
      const waited = results.filter((r) => r.stdout.includes('"event":"lock.wait"')).length;
      const history = await db.query<{ version: string; n: number }>(
        'SELECT version, count(*)::int AS n FROM preflight_migrations WHERE finished_at IS NOT NULL GROUP BY version',
      );
      const verify = await runCli(['verify'], { cwd: dir, env: { DATABASE_URL: db.url } });
      summary.run = {
        server: await serverVersion(),
        replicas: REPLICAS,
        exitCodes: Object.fromEntries(
          [...new Set(results.map((r) => r.exitCode))].map((c) => [
            c,
            results.filter((r) => r.exitCode === c).length,
          ]),
        ),
        migrations: names.length,
        migrationsAppliedInTotal: applied.length,
        replicasThatMigrated: migrators,
        replicasThatWaited: waited,
        historyRows: history.length,
        verifyExitCode: verify.exitCode,
        wallMs,
      };
      expect(results.map((r) => r.exitCode)).toEqual(Array(REPLICAS).fill(0));
      for (const r of results) expect(outputProblems(r, [serverPassword()])).toEqual([]);
      expect(applied).toHaveLength(names.length);
      expect(new Set(applied.map((l) => l.migration)).size).toBe(names.length);
      expect(migrators).toBe(1);
      expect(history).toHaveLength(names.length);
      expect(history.every((h) => h.n === 1)).toBe(true);
      for (const r of results) expect(r.stdout).toContain('"event":"verify.result"');
      expect(verify.exitCode).toBe(0);
      expect(await advisoryLocksHeld(db)).toBe(0);
    },
    5 * 60_000,
  );

  it('one started with --lock-timeout 1s while a long migration runs exits 4 naming the holder', async () => {
    const dir = scratchDir();
    mkdirSync(path.join(dir, 'migrations'));
    writeFileSync(path.join(dir, 'migrations', '0001_first.sql'), 'CREATE TABLE first (id int);\n');
    writeFileSync(
      path.join(dir, 'migrations', '0002_long.sql'),
      'SELECT pg_sleep(5);\nCREATE TABLE long_done (id int);\n',
    );
    const env = { DATABASE_URL: db.url };
    const first = startCli(['run'], { cwd: dir, env });
    await waitForStatement(db, 'pg_sleep(5)');
    const [holder] = await db.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_sleep(5)%' AND pid <> pg_backend_pid()",
    );
    const late = await runCli(['run', '--lock-timeout', '1s'], { cwd: dir, env });
    const done = await first;
    summary.lockTimeout = {
      exitCode: late.exitCode,
      waitedMs: late.durationMs,
      namesHolderPid: late.all.includes(`pid ${holder?.pid}`),
      message: logLines(late.stdout).find((l) => l.event === 'error')?.msg,
      firstExitCode: done.exitCode,
    };
    expect(late.exitCode).toBe(4);
    expect(late.all).toContain(`pid ${holder?.pid} (preflight, active`);
    expect(late.all).toContain('pg_sleep(5)');
    expect(late.all).toMatch(/raise --lock-timeout/);
    expect(outputProblems(late, [serverPassword()])).toEqual([]);
    expect(late.durationMs).toBeGreaterThanOrEqual(1000);
    expect(done.exitCode).toBe(0);
    const tables = await db.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    );
    expect(tables.map((t) => t.tablename)).toEqual(['first', 'long_done', 'preflight_migrations']);
  }, 60_000);
});
