import { logLines, runCli, startCli, type CliResult } from '../helpers/cli.js';
import { outputProblems } from './helpers/outputs.js';
import {
  holdLock,
  pausingProject,
  projectState,
  waitForPause,
  type Pause,
} from './helpers/scenario.js';
import { createDatabase, serverPassword, type ScratchDatabase } from './helpers/server.js';
import { writeSummary } from './helpers/summary.js';

// SIGTERM (and SIGINT) in each phase: the running statement is cancelled, its transaction rolled
// back, the lock released, and preflight exits 143 (130) long before the statement would end.
const SLEEP_SECONDS = 60;

interface Case {
  readonly pause: Pause;
  readonly signal: 'SIGTERM' | 'SIGINT';
  readonly exitCode: number;
  /** What the database must hold afterwards: finished migrations, tables, seed rows. */
  readonly history: string[];
  readonly tables: string[];
  readonly marks: number;
}

const BOTH = ['0001_base.sql', '0002_slow.sql'];
const ALL_TABLES = ['marks', 'preflight_migrations', 'slow_a', 'slow_b'];
const CASES: Case[] = [
  { pause: 'lock', signal: 'SIGTERM', exitCode: 143, history: [], tables: [], marks: 0 },
  {
    pause: 'migration',
    signal: 'SIGTERM',
    exitCode: 143,
    history: ['0001_base.sql'],
    tables: ['marks', 'preflight_migrations'],
    marks: 0,
  },
  { pause: 'seed', signal: 'SIGTERM', exitCode: 143, history: BOTH, tables: ALL_TABLES, marks: 0 },
  {
    pause: 'verify',
    signal: 'SIGTERM',
    exitCode: 143,
    history: BOTH,
    // The first verification creates preflight's verified-state table before it reads the catalog.
    tables: [...ALL_TABLES, 'preflight_verification'].sort(),
    marks: 2,
  },
  {
    pause: 'migration',
    signal: 'SIGINT',
    exitCode: 130,
    history: ['0001_base.sql'],
    tables: ['marks', 'preflight_migrations'],
    marks: 0,
  },
  { pause: 'seed', signal: 'SIGINT', exitCode: 130, history: BOTH, tables: ALL_TABLES, marks: 0 },
];

const results: Array<Record<string, unknown>> = [];
let db: ScratchDatabase;
beforeEach(async () => {
  db = await createDatabase('sig');
});
afterEach(async () => {
  await db.drop();
});
afterAll(() => writeSummary('signals', { cases: results }));

describe.each(CASES)('$signal while $pause', (c) => {
  it(`exits ${c.exitCode}, rolls back what was running, releases the lock, and a rerun converges`, async () => {
    const dir = pausingProject(c.pause === 'lock' ? undefined : c.pause, SLEEP_SECONDS);
    const holder = c.pause === 'lock' ? await holdLock(db.url) : undefined;
    const started = Date.now();
    const cli = startCli(['run'], { cwd: dir, env: { DATABASE_URL: db.url } });
    try {
      await waitForPause(cli, db, c.pause);
      cli.kill(c.signal);
      const raw = await cli;
      const result: CliResult = {
        exitCode: raw.exitCode ?? -1,
        stdout: String(raw.stdout ?? ''),
        stderr: String(raw.stderr ?? ''),
        all: String(raw.all ?? ''),
        durationMs: Date.now() - started,
      };
      expect(result.exitCode).toBe(c.exitCode);
      expect(result.durationMs).toBeLessThan(SLEEP_SECONDS * 1000);
      expect(outputProblems(result, [serverPassword()])).toEqual([]);
      expect(result.all).toContain(`interrupted by ${c.signal}`);
      expect(logLines(result.stdout).at(-1)).toMatchObject({ event: 'done', exitCode: c.exitCode });
      await db.settle(5000);
      const state = await projectState(db);
      expect({ history: state.history, tables: state.tables, marks: state.marks }).toEqual({
        history: c.history,
        tables: c.tables,
        marks: c.marks,
      });
      // Only the other deploy's lock remains (lock case); preflight's session left none.
      expect(state.locks).toBe(holder ? 1 : 0);
      results.push({
        signal: c.signal,
        phase: c.pause,
        exitCode: result.exitCode,
        exitedAfterMs: result.durationMs,
        lockLeft: state.locks - (holder ? 1 : 0),
        halfDone: false,
      });
    } finally {
      await holder?.end();
    }
    const rerun = await runCli(['run'], {
      cwd: pausingProject(undefined, 0),
      env: { DATABASE_URL: db.url },
    });
    expect(rerun.all).toContain('DATABASE IS IN SYNC');
    expect(rerun.exitCode).toBe(0);
  }, 60_000);
});
