import { startCli } from '../helpers/cli.js';
import { outputProblems } from './helpers/outputs.js';
import { landedIn } from './helpers/phases.js';
import { countFrom } from './helpers/prng.js';
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

// SIGKILL at random moments: the history must always match what the database holds, and a
// rerun must converge. RELIABILITY_CRASH_TRIALS / _MIGRATIONS / RELIABILITY_SEED to vary.
const TRIALS = countFrom('RELIABILITY_CRASH_TRIALS', 100);
const MIGRATIONS = countFrom('RELIABILITY_CRASH_MIGRATIONS', 50);

interface Trial extends TimedTrial {
  killed: boolean;
  landed: string;
  recordedAtKill: number;
  endedSessions: number;
}

const fixture = useTrialFixture({ prefix: 'crash', migrations: MIGRATIONS, wait: '5s' });
const KILL: FaultWords = {
  session: 'a killed session',
  outlived: 'the killed process',
  after: 'after the kill',
};

/** Runs one trial on a lane's database: start, kill at the trial's moment, inspect, rerun, inspect. */
async function runTrial(db: ScratchDatabase, trial: Trial): Promise<void> {
  const cli = startCli(fixture.runArgs(), { env: { DATABASE_URL: db.url } });
  // Most kills count from the moment the run connected (the interesting part); some from the start.
  const result = await faultAt(cli, trial, () => cli.kill('SIGKILL'));
  trial.killed = result.signal === 'SIGKILL';
  trial.landed = trial.killed ? landedIn(String(result.stdout ?? ''), MIGRATIONS) : 'finished';
  if (!trial.killed && result.exitCode !== 0) {
    trial.problems.push(
      `exited ${result.exitCode} before the kill: ${String(result.all).slice(-500)}`,
    );
  }
  // The server ends the killed session when it sees the socket close; then the lock is free.
  const atKill = await fixture.checkAfterFault(db, trial, KILL);
  trial.endedSessions = atKill.endedSessions;
  trial.recordedAtKill = atKill.state.recorded;

  const { result: rerun, state: after } = await fixture.rerun(db, trial);
  trial.problems.push(...outputProblems(rerun, [serverPassword()]).map((p) => `rerun: ${p}`));
  trial.problems.push(...after.problems.map((p) => `after the rerun: ${p}`));
  if (after.recorded !== MIGRATIONS || after.present !== MIGRATIONS || after.seeds !== 'all') {
    trial.problems.push(
      `the rerun did not converge: ${after.recorded} recorded, ${after.present} present, seeds ${after.seeds}`,
    );
  }
  await db.reset();
}

describe(`SIGKILL at random moments (${TRIALS} trials, ${MIGRATIONS} migrations)`, () => {
  it(
    'never leaves the history out of step with the schema, and a rerun always converges',
    async () => {
      // The expected schema of the generated history (so that every run verifies), written where
      // preflight looks by default; then a timed whole run: kills are spread over that time.
      const { first, snapshot, calibration, wallMs, spanMs } = await fixture.calibrate();
      expect(first.exitCode).toBe(0);
      expect(snapshot.exitCode).toBe(0);
      expect(calibration.exitCode).toBe(0);
      expect(calibration.stdout).toContain('"event":"verify.result"');

      const trials = timedTrials<Trial>(TRIALS, SEED, { wallMs, spanMs }, (trial) => ({
        ...trial,
        killed: false,
        landed: '',
        recordedAtKill: 0,
        endedSessions: 0,
      }));
      console.log(
        `crash trials: seed ${SEED} (RELIABILITY_SEED), ${TRIALS} trials, ${MIGRATIONS} migrations, kills spread over ${spanMs}ms of work (every 10th over ${wallMs}ms from the start)`,
      );
      const started = Date.now();
      await fixture.runTrials(trials, runTrial);
      const landed: Record<string, number> = {};
      for (const t of trials) landed[t.landed] = (landed[t.landed] ?? 0) + 1;
      const failures = trials.filter((t) => t.problems.length > 0);
      writeSummary('crashes', {
        server: await serverVersion(),
        seed: SEED,
        trials: TRIALS,
        migrations: MIGRATIONS,
        spanMs,
        wallMs,
        killed: trials.filter((t) => t.killed).length,
        landed,
        midHistory: trials.filter(
          (t) => t.killed && t.recordedAtKill > 0 && t.recordedAtKill < MIGRATIONS,
        ).length,
        inconsistent: failures.length,
        rerunsConverged: trials.filter((t) => !t.problems.some((p) => p.startsWith('the rerun')))
          .length,
        suiteMs: Date.now() - started,
        failures: failures
          .slice(0, 20)
          .map((t) => ({ trial: t.index, delayMs: t.delayMs, problems: t.problems })),
      });
      expect(
        failures.map((t) => ({ trial: t.index, delayMs: t.delayMs, problems: t.problems })),
      ).toEqual([]);
      expect(trials.filter((t) => t.killed).length).toBeGreaterThan(TRIALS / 2);
    },
    20 * 60_000,
  );
});
