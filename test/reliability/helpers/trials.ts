import type { ResultPromise } from 'execa';
import { logLines, runCli, scratchDir, type CliResult } from '../../helpers/cli.js';
import {
  generateHistory,
  inspectHistory,
  type GeneratedHistory,
  type HistoryState,
} from './history.js';
import { countFrom, seedFrom, seededRandom } from './prng.js';
import { advisoryLocksHeld, createDatabase, type ScratchDatabase } from './server.js';

/** The seed of the randomized trials (RELIABILITY_SEED): printed, so that a run can be repeated. */
export const SEED = seedFrom('RELIABILITY_SEED', 7);
/** How many databases run trials side by side (RELIABILITY_LANES). */
const LANES = countFrom('RELIABILITY_LANES', 2);
/** How many timed runs `calibrate()` makes; the fastest sets the span of the faults. */
const CALIBRATION_RUNS = 3;

/** One trial: a fault (a kill, a cut) at a random moment of a run of the generated history. */
export interface TimedTrial {
  readonly index: number;
  readonly delayMs: number;
  /** Whether the delay counts from the process start rather than from the connection. */
  readonly fromStart: boolean;
  problems: string[];
}

/** How long a whole run takes, measured by `calibrate()`: the faults are spread over that time. */
export interface Calibration {
  /** The run from the start of the process to its exit. */
  readonly wallMs: number;
  /** The work, from the connection on (the `durationMs` of the last log line). */
  readonly spanMs: number;
}

/** How a trial's problems name its fault. */
export interface FaultWords {
  /** The server session the fault left behind: `a killed session`. */
  readonly session: string;
  /** What no advisory lock may outlive: `the killed process`. */
  readonly outlived: string;
  /** The prefix of the history's problems: `after the kill`. */
  readonly after: string;
}

/** A generated history and LANES databases to run it on, shared by a test file's trials. */
export interface TrialFixture {
  readonly history: GeneratedHistory;
  readonly lanes: ScratchDatabase[];
  /** `preflight run` of the history, with the fixture's `--wait`. */
  runArgs(): string[];
  /**
   * On the first lane: a whole run; the expected schema, written where preflight looks by default
   * (so that every run verifies); then timed runs of an empty database, the fastest of which sets
   * the span (`calibration` is the first that failed, or else the first). The database is emptied
   * after each run. The results are the test's to check.
   */
  calibrate(): Promise<
    Calibration & { first: CliResult; snapshot: CliResult; calibration: CliResult }
  >;
  /** Runs the trials on the lanes side by side: trial i on lane i % LANES, in order on each. */
  runTrials<T extends TimedTrial>(
    trials: readonly T[],
    run: (db: ScratchDatabase, trial: T) => Promise<void>,
  ): Promise<void>;
  /**
   * After a fault: waits until the server has ended the run's sessions, then checks that no advisory
   * lock is left and that the history matches the schema. What is wrong goes to `trial.problems`.
   */
  checkAfterFault(
    db: ScratchDatabase,
    trial: TimedTrial,
    words: FaultWords,
  ): Promise<{ endedSessions: number; state: HistoryState }>;
  /** Runs the history again on the lane (a non-zero exit is a problem) and inspects the database. */
  rerun(
    db: ScratchDatabase,
    trial: TimedTrial,
  ): Promise<{ result: CliResult; state: HistoryState }>;
}

/**
 * Before the file's tests: a history of `migrations` generated migrations and LANES databases
 * named `<prefix>_...`; the databases are dropped after them.
 */
export function useTrialFixture(options: {
  prefix: string;
  migrations: number;
  wait: string;
}): TrialFixture {
  let history: GeneratedHistory;
  let lanes: ScratchDatabase[] = [];

  beforeAll(async () => {
    history = generateHistory(scratchDir(), options.migrations);
    lanes = await Promise.all(Array.from({ length: LANES }, () => createDatabase(options.prefix)));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(lanes.map((db) => db.drop()));
  });

  const runArgs = (): string[] => [
    'run',
    '--migrations',
    history.migrations,
    '--seeds',
    history.seeds,
    '--wait',
    options.wait,
  ];

  return {
    get history() {
      return history;
    },
    get lanes() {
      return lanes;
    },
    runArgs,
    async calibrate() {
      const env = { DATABASE_URL: lanes[0]?.url ?? '' };
      const first = await runCli(runArgs(), { env });
      const snapshot = await runCli(['snapshot', '--migrations', history.migrations], { env });
      await lanes[0]?.reset();
      // The fastest of a few timed runs: one run slowed by a busy moment (other test files start
      // alongside) would spread the faults past the end of most trials, which then finish unharmed.
      const runs: Array<{ result: CliResult; wallMs: number; spanMs: number }> = [];
      for (let i = 0; i < CALIBRATION_RUNS; i++) {
        const result = await runCli(runArgs(), { env });
        await lanes[0]?.reset();
        const spanMs = Number(logLines(result.stdout).at(-1)?.durationMs ?? result.durationMs);
        runs.push({ result, wallMs: result.durationMs, spanMs });
        if (result.exitCode !== 0) break;
      }
      const calibration = runs.find((r) => r.result.exitCode !== 0)?.result ?? runs[0]!.result;
      // Faults counted from the start spread over the whole process; the others over the work.
      const wallMs = Math.max(500, Math.min(...runs.map((r) => r.wallMs)));
      const spanMs = Math.max(300, Math.min(...runs.map((r) => r.spanMs)));
      return { first, snapshot, calibration, wallMs, spanMs };
    },
    async runTrials(trials, run) {
      await Promise.all(
        lanes.map(async (db, lane) => {
          for (const trial of trials.filter((t) => t.index % LANES === lane)) await run(db, trial);
        }),
      );
    },
    async checkAfterFault(db, trial, words) {
      const endedSessions = await db.settle();
      if (endedSessions > 0) trial.problems.push(`${words.session} stayed on the server`);
      if ((await advisoryLocksHeld(db)) > 0)
        trial.problems.push(`an advisory lock outlived ${words.outlived}`);
      const state = await inspectHistory(db, options.migrations);
      trial.problems.push(...state.problems.map((p) => `${words.after}: ${p}`));
      return { endedSessions, state };
    },
    async rerun(db, trial) {
      const result = await runCli(runArgs(), { env: { DATABASE_URL: db.url } });
      if (result.exitCode !== 0)
        trial.problems.push(`the rerun exited ${result.exitCode}: ${result.all.slice(-800)}`);
      return { result, state: await inspectHistory(db, options.migrations) };
    },
  };
}

/**
 * `count` trials drawn from `seed`: every 10th counts its delay from the process start and draws
 * it over `wallMs`, the others from the connection over `spanMs`. `make` completes each trial,
 * drawing from the same sequence after its delay.
 */
export function timedTrials<T extends TimedTrial>(
  count: number,
  seed: number,
  { wallMs, spanMs }: Calibration,
  make: (trial: TimedTrial, random: () => number) => T,
): T[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, index) => {
    const fromStart = index % 10 === 0;
    const delayMs = Math.round(random() * (fromStart ? wallMs : spanMs));
    return make({ index, fromStart, delayMs, problems: [] }, random);
  });
}

/**
 * Waits for a started run, applying `fault` at the trial's moment: `delayMs` after the run
 * connected (its `connect` log line), or after the start for the trials counted from the start.
 */
export async function faultAt(
  cli: ResultPromise,
  trial: TimedTrial,
  fault: () => void,
): Promise<Awaited<ResultPromise>> {
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    timer ??= setTimeout(fault, trial.delayMs);
  };
  if (trial.fromStart) arm();
  else cli.stdout?.on('data', (chunk: Buffer) => chunk.includes('"event":"connect"') && arm());
  try {
    return await cli;
  } finally {
    clearTimeout(timer);
  }
}
