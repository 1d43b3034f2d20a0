import { logLines, runCli, scratchDir, startCli } from '../helpers/cli.js';
import { generateHistory, inspectHistory, type GeneratedHistory } from './helpers/history.js';
import { outputProblems } from './helpers/outputs.js';
import { landedIn } from './helpers/phases.js';
import { countFrom, seedFrom, seededRandom } from './helpers/prng.js';
import {
  advisoryLocksHeld,
  createDatabase,
  serverPassword,
  serverVersion,
  type ScratchDatabase,
} from './helpers/server.js';
import { writeSummary } from './helpers/summary.js';

// SIGKILL at random moments: the history must always match what the database holds, and a
// rerun must converge. RELIABILITY_CRASH_TRIALS / _MIGRATIONS / RELIABILITY_SEED to vary.
const TRIALS = countFrom('RELIABILITY_CRASH_TRIALS', 100);
const MIGRATIONS = countFrom('RELIABILITY_CRASH_MIGRATIONS', 50);
const SEED = seedFrom('RELIABILITY_SEED', 7);
const LANES = countFrom('RELIABILITY_LANES', 2);

interface Trial {
  readonly index: number;
  readonly delayMs: number;
  /** Whether the delay counts from the process start rather than from the connection. */
  readonly fromStart: boolean;
  killed: boolean;
  landed: string;
  recordedAtKill: number;
  endedSessions: number;
  problems: string[];
}

let history: GeneratedHistory;
let lanes: ScratchDatabase[] = [];

const args = (h: GeneratedHistory): string[] => [
  'run',
  '--migrations',
  h.migrations,
  '--seeds',
  h.seeds,
  '--wait',
  '5s',
];

beforeAll(async () => {
  history = generateHistory(scratchDir(), MIGRATIONS);
  lanes = await Promise.all(Array.from({ length: LANES }, () => createDatabase('crash')));
}, 60_000);

afterAll(async () => {
  await Promise.all(lanes.map((db) => db.drop()));
});

/** Runs one trial on a lane's database: start, kill at the trial's moment, inspect, rerun, inspect. */
async function runTrial(
  db: ScratchDatabase,
  trial: Trial,
  env: Record<string, string>,
): Promise<void> {
  const cli = startCli(args(history), { env });
  // Most kills count from the moment the run connected (the interesting part); some from the start.
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    timer ??= setTimeout(() => cli.kill('SIGKILL'), trial.delayMs);
  };
  if (trial.fromStart) arm();
  else cli.stdout?.on('data', (chunk: Buffer) => chunk.includes('"event":"connect"') && arm());
  const result = await cli;
  clearTimeout(timer);
  trial.killed = result.signal === 'SIGKILL';
  trial.landed = trial.killed ? landedIn(String(result.stdout ?? ''), MIGRATIONS) : 'finished';
  if (!trial.killed && result.exitCode !== 0) {
    trial.problems.push(
      `exited ${result.exitCode} before the kill: ${String(result.all).slice(-500)}`,
    );
  }
  // The server ends the killed session when it sees the socket close; then the lock is free.
  trial.endedSessions = await db.settle();
  if (trial.endedSessions > 0) trial.problems.push('a killed session stayed on the server');
  if ((await advisoryLocksHeld(db)) > 0)
    trial.problems.push('an advisory lock outlived the killed process');
  const atKill = await inspectHistory(db, MIGRATIONS);
  trial.recordedAtKill = atKill.recorded;
  trial.problems.push(...atKill.problems.map((p) => `after the kill: ${p}`));

  const rerun = await runCli(args(history), { env });
  if (rerun.exitCode !== 0)
    trial.problems.push(`the rerun exited ${rerun.exitCode}: ${rerun.all.slice(-800)}`);
  trial.problems.push(...outputProblems(rerun, [serverPassword()]).map((p) => `rerun: ${p}`));
  const after = await inspectHistory(db, MIGRATIONS);
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
      const env = { DATABASE_URL: lanes[0]?.url ?? '' };
      // The expected schema of the generated history (so that every run verifies), written where
      // preflight looks by default; then a timed whole run: kills are spread over that time.
      expect((await runCli(args(history), { env })).exitCode).toBe(0);
      const snapshot = await runCli(['snapshot', '--migrations', history.migrations], { env });
      expect(snapshot.exitCode).toBe(0);
      await lanes[0]?.reset();
      const calibration = await runCli(args(history), { env });
      expect(calibration.exitCode).toBe(0);
      expect(calibration.stdout).toContain('"event":"verify.result"');
      await lanes[0]?.reset();
      // Kills counted from the start spread over the whole process; the others over the work.
      const wallMs = Math.max(500, calibration.durationMs);
      const spanMs = Math.max(
        300,
        Number(logLines(calibration.stdout).at(-1)?.durationMs ?? wallMs),
      );

      const random = seededRandom(SEED);
      const trials: Trial[] = Array.from({ length: TRIALS }, (_, index) => ({
        index,
        fromStart: index % 10 === 0,
        delayMs: Math.round(random() * (index % 10 === 0 ? wallMs : spanMs)),
        killed: false,
        landed: '',
        recordedAtKill: 0,
        endedSessions: 0,
        problems: [],
      }));
      console.log(
        `crash trials: seed ${SEED} (RELIABILITY_SEED), ${TRIALS} trials, ${MIGRATIONS} migrations, kills spread over ${spanMs}ms of work (every 10th over ${wallMs}ms from the start)`,
      );
      const started = Date.now();
      await Promise.all(
        lanes.map(async (db, lane) => {
          for (const trial of trials.filter((t) => t.index % LANES === lane)) {
            await runTrial(db, trial, { DATABASE_URL: db.url });
          }
        }),
      );
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
