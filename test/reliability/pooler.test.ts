import { logLines, runCli, scratchDir, startCli } from '../helpers/cli.js';
import { outputProblems } from './helpers/outputs.js';
import { havePgBouncer, PGBOUNCER, startPgBouncer, type PgBouncer } from './helpers/pgbouncer.js';
import {
  advisoryLocksHeld,
  createDatabase,
  serverPassword,
  serverUrl,
  type ScratchDatabase,
} from './helpers/server.js';
import { writeSummary } from './helpers/summary.js';

// PgBouncer (Debian's package) between preflight and Postgres: in transaction mode a session
// advisory lock protects nothing, so preflight must refuse (exit 2, asking for a direct URL);
// in session mode it must work, replicas included.
const REPEATS = 5;
/** More replicas than the pool has servers (10), as a deploy of many replicas meets it. */
const REPLICAS = 16;

const available = havePgBouncer();
if (!available) {
  console.warn(
    `NOTICE: ${PGBOUNCER} is not installed: the PgBouncer tests are skipped (apt-get install pgbouncer)`,
  );
}
const describeIf = available ? describe : describe.skip;

describeIf('behind PgBouncer', () => {
  let pool: PgBouncer;
  let txDb: ScratchDatabase;
  let ssDb: ScratchDatabase;
  const summary: Record<string, unknown> = {};

  beforeAll(async () => {
    [txDb, ssDb] = await Promise.all([createDatabase('pgb'), createDatabase('pgb')]);
    pool = await startPgBouncer(serverUrl(), [txDb.name, ssDb.name]);
  }, 60_000);
  afterAll(async () => {
    await pool?.stop();
    await Promise.all([txDb?.drop(), ssDb?.drop()]);
    writeSummary('pooler', summary);
  });

  it('in transaction mode: exits 2 asking for a direct URL, every time, and changes nothing', async () => {
    const dir = scratchDir({ migrations: true, seeds: true });
    const codes: number[] = [];
    for (let i = 0; i < REPEATS; i++) {
      const result = await runCli(['run'], {
        cwd: dir,
        env: { DATABASE_URL: pool.url(txDb.name, 'transaction') },
      });
      codes.push(result.exitCode);
      expect(outputProblems(result, [serverPassword()])).toEqual([]);
      expect(result.all).toMatch(
        /connection pooler in transaction mode \(PgBouncer\) cannot hold a session advisory lock/,
      );
      expect(result.all).toMatch(/Point preflight at the database directly/);
      expect(result.exitCode).toBe(2);
    }
    // Replicas at once through the same pool: none may go ahead.
    const replicas = await Promise.all(
      Array.from({ length: REPLICAS }, () =>
        startCli(['run'], { cwd: dir, env: { DATABASE_URL: pool.url(txDb.name, 'transaction') } }),
      ),
    );
    const replicaCodes = replicas.map((r) => r.exitCode);
    for (const r of replicas) if (r.exitCode !== 2) console.log(String(r.all).slice(-3000));
    summary.transaction = { sequential: codes, replicas: replicaCodes };
    expect(replicaCodes).toEqual(Array(REPLICAS).fill(2));
    const tables = await txDb.query("SELECT 1 FROM pg_tables WHERE schemaname = 'public'");
    expect(tables).toEqual([]);
    expect(await advisoryLocksHeld(txDb)).toBe(0);
  }, 120_000);

  it('in session mode: works, replicas included, and a second run finds nothing pending', async () => {
    const dir = scratchDir({ migrations: true, seeds: true });
    const replicas = await Promise.all(
      Array.from({ length: REPLICAS }, () =>
        startCli(['run'], { cwd: dir, env: { DATABASE_URL: pool.url(ssDb.name, 'session') } }),
      ),
    );
    const codes = replicas.map((r) => r.exitCode);
    const applied = replicas.flatMap((r) =>
      logLines(String(r.stdout)).filter((l) => l.event === 'migration.applied'),
    );
    const again = await runCli(['run'], {
      cwd: dir,
      env: { DATABASE_URL: pool.url(ssDb.name, 'session') },
    });
    const skipped = replicas.filter((r) =>
      String(r.stdout).includes('"event":"lock.probe-skipped"'),
    ).length;
    summary.session = {
      replicas: codes,
      migrationsApplied: applied.length,
      secondRun: again.exitCode,
      probeSkipped: skipped,
    };
    expect(codes).toEqual(Array(REPLICAS).fill(0));
    expect(new Set(applied.map((l) => l.migration)).size).toBe(applied.length);
    expect(again.exitCode).toBe(0);
    expect(logLines(again.stdout).some((l) => l.event === 'migrations.none-pending')).toBe(true);
    expect(await advisoryLocksHeld(ssDb)).toBe(0);
  }, 120_000);
});
