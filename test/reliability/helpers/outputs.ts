import { existsSync, readFileSync } from 'node:fs';
import type { CliResult } from '../../helpers/cli.js';

/** A JavaScript stack frame, as printed by an uncaught error or `error.stack`. */
const STACK_FRAME = /^\s+at (?:.+ \()?(?:\/|node:|file:).*:\d+(?::\d+)?\)?$/m;

/** What is wrong with a finished CLI run's output: stack traces, exit 1, a secret, no final `done` line. */
export function outputProblems(
  result: Pick<CliResult, 'exitCode' | 'all' | 'stdout'>,
  secrets: readonly string[],
  files: readonly string[] = [],
): string[] {
  const problems: string[] = [];
  if (result.exitCode === 1) problems.push('exit code 1 (internal error)');
  if (STACK_FRAME.test(result.all))
    problems.push(`a stack trace: ${STACK_FRAME.exec(result.all)?.[0]}`);
  if (/internal error/i.test(result.all)) problems.push('says "internal error"');
  const texts: Array<[string, string]> = [['output', result.all]];
  for (const file of files) if (existsSync(file)) texts.push([file, readFileSync(file, 'utf8')]);
  for (const secret of secrets) {
    for (const [where, text] of texts) {
      if (secret && text.includes(secret))
        problems.push(`the secret ${JSON.stringify(secret.slice(0, 3))}... in ${where}`);
    }
  }
  return problems;
}

/** The error message preflight logged (the `error` event), or the first stderr line. */
export function errorMessage(result: Pick<CliResult, 'stdout' | 'stderr'>): string {
  for (const line of result.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { event?: string; msg?: string };
      if (entry.event === 'error' && entry.msg) return entry.msg;
    } catch {
      // not a log line
    }
  }
  // Before logging starts (usage and configuration errors), the message is on stderr.
  return result.stderr
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(0, 4)
    .join('\n');
}

/** The output of a run started with `startCli`, once it has ended (-1: no exit code, as for a signal). */
export function settledOutput(result: {
  exitCode?: number;
  all?: unknown;
  stdout?: unknown;
  stderr?: unknown;
}): Pick<CliResult, 'exitCode' | 'all' | 'stdout' | 'stderr'> {
  return {
    exitCode: result.exitCode ?? -1,
    all: String(result.all ?? ''),
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
  };
}
