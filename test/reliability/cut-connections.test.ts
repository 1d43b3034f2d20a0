import { logLines, runCli, startCli } from '../helpers/cli.js';
import { errorMessage, outputProblems, settledOutput } from './helpers/outputs.js';
import { countFrom } from './helpers/prng.js';
import { proxyTo, type CutMode } from './helpers/proxy.js';
import {
  holdLock,
  pausingProject,
  projectState,
  waitForPause,
  type Pause,
} from './helpers/scenario.js';
import { serverPassword, serverVersion, type ScratchDatabase } from './helpers/server.js';
import { writeSummary } from './helpers/summary.js';
import {
  faultAt,
  SEED,
  timedTrials,
  useTrialFixture,
  type FaultWords,
  type TimedTrial,
} from './helpers/trials.js';

// A TCP proxy between preflight and Postgres cuts every connection at a random moment: preflight
// must stop with the exit code and a message of the phase it was in, leave nothing half-applied,
// and a rerun must converge. RELIABILITY_CUT_TRIALS / RELIABILITY_SEED to vary.
const TRIALS = countFrom('RELIABILITY_CUT_TRIALS', 50);
const MIGRATIONS = 50;

/** The phase a message names, and the exit code that phase must give. */
const PHASES: Array<{ phase: string; pattern: RegExp; exitCode: number }> = [
  { phase: 'connecting', pattern: /while connecting|while reading the database/, exitCode: 3 },
  {
    phase: 'connecting',
    pattern: /connection refused by|cannot connect to .* gave up after/,
    exitCode: 3,
  },
  { phase: 'waiting for the lock', pattern: /while waiting for the advisory lock/, exitCode: 4 },
  { phase: 'reading the history', pattern: /while reading the migration history/, exitCode: 5 },
  {
    phase: 'applying a migration',
    pattern: /while applying migration \d{4}_create_t_\d{4}\.sql/,
    exitCode: 5,
  },
  { phase: 'seeding', pattern: /while seeding/, exitCode: 7 },
  { phase: 'verifying', pattern: /while verifying/, exitCode: 8 },
];

interface Trial extends TimedTrial {
  readonly mode: CutMode;
  exitCode: number | undefined;
  phase: string;
  message: string;
}

const fixture = useTrialFixture({ prefix: 'cut', migrations: MIGRATIONS, wait: '1s' });
const CUT: FaultWords = { session: 'a cut session', outlived: 'the cut', after: 'after the cut' };

async function runTrial(db: ScratchDatabase, trial: Trial): Promise<void> {
  const proxy = await proxyTo(db.url);
  try {
    const cli = startCli(fixture.runArgs(), { env: { DATABASE_URL: proxy.via(db.url) } });
    const run = settledOutput(await faultAt(cli, trial, () => proxy.cut(trial.mode)));
    trial.exitCode = run.exitCode;
    trial.problems.push(...outputProblems(run, [serverPassword()]));
    if (run.exitCode === 0) {
      trial.phase =
        proxy.stats.cutAt === undefined
          ? 'finished before the cut'
          : 'finished (cut after the work)';
    } else {
      trial.message = errorMessage(run);
      const named = PHASES.find((p) => p.pattern.test(trial.message));
      trial.phase = named?.phase ?? 'unnamed';
      if (!named) trial.problems.push(`the message names no phase: ${trial.message}`);
      else if (named.exitCode !== run.exitCode)
        trial.problems.push(
          `exit ${run.exitCode} for ${named.phase} (expected ${named.exitCode}): ${trial.message}`,
        );
      if (logLines(run.stdout).at(-1)?.event !== 'done')
        trial.problems.push('no final `done` log line');
    }
  } finally {
    await proxy.close();
  }
  await fixture.checkAfterFault(db, trial, CUT);
  const { state: after } = await fixture.rerun(db, trial);
  if (after.problems.length > 0 || after.present !== MIGRATIONS || after.seeds !== 'all') {
    trial.problems.push(`the rerun did not converge: ${JSON.stringify(after)}`);
  }
  await db.reset();
}

describe(`connections cut at random moments (${TRIALS} trials)`, () => {
  it(
    'stops with the exit code and message of the phase, nothing half-applied, and a rerun converges',
    async () => {
      const { first, snapshot, calibration, wallMs, spanMs } = await fixture.calibrate();
      expect(first.exitCode).toBe(0);
      expect(snapshot.exitCode).toBe(0);
      expect(calibration.exitCode).toBe(0);

      const trials = timedTrials<Trial>(TRIALS, SEED + 1, { wallMs, spanMs }, (trial, random) => ({
        ...trial,
        mode: random() < 0.5 ? 'fin' : 'rst',
        exitCode: undefined,
        phase: '',
        message: '',
      }));
      console.log(
        `cut trials: seed ${SEED} (RELIABILITY_SEED), ${TRIALS} trials, ${MIGRATIONS} migrations, cuts spread over ${spanMs}ms of work`,
      );
      const started = Date.now();
      await fixture.runTrials(trials, runTrial);
      const byPhase: Record<string, { trials: number; exitCodes: number[] }> = {};
      for (const t of trials) {
        const entry = (byPhase[t.phase] ??= { trials: 0, exitCodes: [] });
        entry.trials++;
        if (t.exitCode !== undefined && !entry.exitCodes.includes(t.exitCode))
          entry.exitCodes.push(t.exitCode);
      }
      const failures = trials.filter((t) => t.problems.length > 0);
      const examples: Record<string, string> = {};
      for (const t of trials) if (t.message && !examples[t.phase]) examples[t.phase] = t.message;
      writeSummary('cut-connections', {
        server: await serverVersion(),
        seed: SEED,
        trials: TRIALS,
        migrations: MIGRATIONS,
        spanMs,
        byPhase,
        exitOne: trials.filter((t) => t.exitCode === 1).length,
        inconsistent: failures.length,
        examples,
        suiteMs: Date.now() - started,
        failures: failures
          .slice(0, 20)
          .map((t) => ({ trial: t.index, delayMs: t.delayMs, mode: t.mode, problems: t.problems })),
      });
      expect(
        failures.map((t) => ({
          trial: t.index,
          delayMs: t.delayMs,
          mode: t.mode,
          problems: t.problems,
        })),
      ).toEqual([]);
      expect(trials.filter((t) => t.exitCode !== 0).length).toBeGreaterThan(TRIALS / 2);
    },
    20 * 60_000,
  );
});

/** One cut in the middle of each phase, where a random cut rarely lands (the phases are short). */
const PHASE_CASES: Array<{
  pause: Pause;
  exitCode: number;
  names: RegExp;
  history: string[];
  marks: number;
}> = [
  {
    pause: 'lock',
    exitCode: 4,
    names: /while waiting for the advisory lock/,
    history: [],
    marks: 0,
  },
  {
    pause: 'migration',
    exitCode: 5,
    names: /while applying migration 0002_slow\.sql/,
    history: ['0001_base.sql'],
    marks: 0,
  },
  {
    pause: 'seed',
    exitCode: 7,
    names: /while seeding/,
    history: ['0001_base.sql', '0002_slow.sql'],
    marks: 0,
  },
  {
    pause: 'verify',
    exitCode: 8,
    names: /while verifying/,
    history: ['0001_base.sql', '0002_slow.sql'],
    marks: 2,
  },
];
const phaseResults: Array<Record<string, unknown>> = [];
afterAll(() => writeSummary('cut-phases', { cases: phaseResults }));

describe.each(PHASE_CASES)('a connection cut while $pause', (c) => {
  it(`exits ${c.exitCode} naming the phase; the server rolls back; a rerun converges`, async () => {
    const db = fixture.lanes[0] as ScratchDatabase;
    await db.reset();
    // The server notices a cut only when the running statement ends: keep it short.
    const dir = pausingProject(c.pause === 'lock' ? undefined : c.pause, 2);
    const holder = c.pause === 'lock' ? await holdLock(db.url) : undefined;
    const proxy = await proxyTo(db.url);
    try {
      const cli = startCli(['run', '--wait', '1s'], {
        cwd: dir,
        env: { DATABASE_URL: proxy.via(db.url) },
      });
      await waitForPause(cli, db, c.pause);
      proxy.cut('rst');
      const result = settledOutput(await cli);
      const message = errorMessage(result);
      phaseResults.push({
        phase: c.pause,
        exitCode: result.exitCode,
        message,
      });
      expect(outputProblems(result, [serverPassword()])).toEqual([]);
      expect(message).toMatch(c.names);
      expect(result.exitCode).toBe(c.exitCode);
    } finally {
      await proxy.close();
      await holder?.end();
    }
    await db.settle();
    const state = await projectState(db);
    expect({ history: state.history, marks: state.marks, locks: state.locks }).toEqual({
      history: c.history,
      marks: c.marks,
      locks: 0,
    });
    if (c.pause === 'migration') expect(state.tables).not.toContain('slow_a');
    const rerun = await runCli(['run'], {
      cwd: pausingProject(undefined, 0),
      env: { DATABASE_URL: db.url },
    });
    expect(rerun.exitCode).toBe(0);
  }, 60_000);
});
