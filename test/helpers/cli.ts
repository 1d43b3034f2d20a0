import { cpSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { newTerminationLog, removeTerminationLog, scanInvocation } from './secrets-scan.js';

/** The built bundle, as users run it (npm test builds it first). */
export const BUNDLE = path.resolve('dist/preflight.cjs');
export const REPO_MIGRATIONS = path.resolve('migrations');
export const REPO_SEEDS = path.resolve('seeds');

export interface CliResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr together, for "appears nowhere in the output" checks. */
  readonly all: string;
  readonly durationMs: number;
}

/** Environment without the caller's database variables, so tests say exactly what they use. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^(PG|PREFLIGHT_|DATABASE_|LOG_)/.test(key)) continue;
    env[key] = value;
  }
  return {
    ...env,
    LOG_FORMAT: 'json',
    PREFLIGHT_TERMINATION_LOG: '/nonexistent/termination-log',
    ...extra,
  };
}

/** Starts the built CLI without waiting (for signal and concurrency tests). */
export function startCli(
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): ResultPromise {
  // Every run writes a termination log (unless the test chose the path); it is searched for secrets.
  const terminationLog =
    options.env?.PREFLIGHT_TERMINATION_LOG === undefined ? newTerminationLog() : undefined;
  const env = cleanEnv({
    ...(terminationLog ? { PREFLIGHT_TERMINATION_LOG: terminationLog } : {}),
    ...options.env,
  });
  const cwd = options.cwd ?? process.cwd();
  const subprocess = execa(process.execPath, [BUNDLE, ...args], {
    env,
    extendEnv: false,
    cwd,
    reject: false,
    all: true,
  });
  scans.set(
    subprocess,
    subprocess.then((result) => {
      const output = String(result.all ?? '');
      const scan = scanInvocation({
        args,
        env,
        cwd,
        output,
        terminationLog: env.PREFLIGHT_TERMINATION_LOG,
      });
      removeTerminationLog(terminationLog);
      return scan.hits;
    }),
  );
  return subprocess;
}

const scans = new WeakMap<ResultPromise, Promise<string[]>>();

/** Runs the built CLI to completion. */
export async function runCli(
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<CliResult> {
  const started = Date.now();
  const subprocess = startCli(args, options);
  const result = await subprocess;
  const hits = (await scans.get(subprocess)) ?? [];
  if (hits.length > 0) throw new Error(`a password leaked: ${hits.join('; ')}`);
  return {
    exitCode: result.exitCode ?? -1,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    all: String(result.all ?? ''),
    durationMs: Date.now() - started,
  };
}

/** A scratch directory with a copy of the repo's migrations (or an empty one). */
export function scratchDir(options: { migrations?: boolean; seeds?: boolean } = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'preflight-test-'));
  if (options.migrations)
    cpSync(REPO_MIGRATIONS, path.join(dir, 'migrations'), { recursive: true });
  if (options.seeds) cpSync(REPO_SEEDS, path.join(dir, 'seeds'), { recursive: true });
  return dir;
}

/** Parses the JSON log lines of stdout. */
export function logLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The repo's migration file names, in order. */
export function repoMigrationNames(): string[] {
  return readdirSync(REPO_MIGRATIONS)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .sort();
}
