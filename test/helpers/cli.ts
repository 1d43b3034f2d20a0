import { cpSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';

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
  return execa(process.execPath, [BUNDLE, ...args], {
    env: cleanEnv(options.env),
    extendEnv: false,
    cwd: options.cwd ?? process.cwd(),
    reject: false,
    all: true,
  });
}

/** Runs the built CLI to completion. */
export async function runCli(
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<CliResult> {
  const started = Date.now();
  const result = await startCli(args, options);
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
